"""Reading the API's Prometheus metrics in tests."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.servers import Server


def scrape(api: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{api.url}/metrics", headers=api.headers)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def requests(samples: dict, route: str, method: str, status: str) -> float:
    key = ("imagesearch_http_requests_total", (("method", method), ("route", route), ("status", status)))
    return samples.get(key, 0.0)


def stage_count(samples: dict, stage: str) -> float:
    return samples[("imagesearch_stage_seconds_count", (("stage", stage),))]


def per_worker(samples: dict, name: str) -> dict[str, float]:
    """A gauge kept per worker (``multiprocess_mode='liveall'``): worker pid -> value."""
    return {
        dict(labels)["pid"]: value
        for (sample, labels), value in samples.items()
        if sample == name and "pid" in dict(labels)
    }

"""GET /metrics: Prometheus text with per-route request counts, latencies and stage timings."""

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.metrics import requests, scrape, stage_count
from support.servers import Server


def test_request_counters_use_route_templates_and_increase(api: Server) -> None:
    before = scrape(api)
    for image_id in (1, 2, 3):
        assert httpx.get(f"{api.url}/similar/{image_id}").status_code == 200
    assert httpx.get(f"{api.url}/similar/999").status_code == 404
    assert httpx.get(f"{api.url}/search", params={"query": "metrics"}).status_code == 200
    assert httpx.post(f"{api.url}/search", json={"terms": []}).status_code == 422
    assert httpx.post(f"{api.url}/search/batch", json={"queries": [{"text": "a"}]}).status_code == 200
    assert httpx.get(f"{api.url}/no/such/path/42").status_code == 404
    after = scrape(api)
    expected = [
        ("/similar/{image_id}", "GET", "200", 3),
        ("/similar/{image_id}", "GET", "404", 1),
        ("/search", "GET", "200", 1),
        ("/search", "POST", "422", 1),
        ("/search/batch", "POST", "200", 1),
        ("<unmatched>", "GET", "404", 1),
    ]
    for route, method, status, count in expected:
        assert requests(after, route, method, status) - requests(before, route, method, status) == count
    # Raw paths never become labels.
    assert not any("/similar/1" in value for _, labels in after for _, value in labels)
    assert not any("/no/such" in value for _, labels in after for _, value in labels)
    latency = (
        "imagesearch_http_request_seconds_count",
        (("method", "GET"), ("route", "/search"), ("status", "200")),
    )
    assert after[latency] >= 1


def test_stage_histograms_are_present_and_grow(api: Server) -> None:
    before = scrape(api)
    for stage in ("encode", "search", "metadata"):
        assert ("imagesearch_stage_seconds_bucket", (("le", "+Inf"), ("stage", stage))) in before
    assert httpx.get(f"{api.url}/search", params={"query": "a stage timing query"}).status_code == 200
    after = scrape(api)
    for stage in ("encode", "search", "metadata"):
        assert stage_count(after, stage) > stage_count(before, stage)
    # /similar reads the stored vector: no encoding.
    encode = stage_count(after, "encode")
    assert httpx.get(f"{api.url}/similar/4").status_code == 200
    assert stage_count(scrape(api), "encode") == encode


def test_several_apps_in_one_process_share_the_metrics(built_index) -> None:
    """A second app in the process (tests, a reload) reuses the one registry: both count there."""
    from fastapi.testclient import TestClient

    from imagesearch.api.app import create_app

    # Registering the metrics a second time would raise here.
    first, second = TestClient(create_app(built_index.settings)), TestClient(create_app(built_index.settings))

    def metrics_requests(client: TestClient) -> float:
        text = client.get("/metrics").text
        key = {"method": "GET", "route": "/metrics", "status": "200"}
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "imagesearch_http_requests_total" and sample.labels == key
        )

    before = metrics_requests(second)
    first.get("/metrics")
    # The first app's request and the second's own earlier scrape, both in the shared registry.
    assert metrics_requests(second) == before + 2

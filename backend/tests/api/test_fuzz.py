"""Schemathesis against the live API's OpenAPI schema: no 5xx, every response as documented.

`make test` runs a bounded number of examples with a fixed seed; `make fuzz` runs a long,
randomly seeded session (FUZZ_EXAMPLES) against the same kind of server. A second, shorter run
goes against a server that requires an API key: every request carries it, and schemathesis'
``ignored_auth`` check also sends each operation without it and expects the refusal.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from support.metrics import requests, scrape
from support.servers import Server

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


def fuzz(api: Server, cwd: Path, examples: str, checks: list[str], *args: str) -> None:
    """Run schemathesis on every operation; fail on any failed check, or an operation left out."""
    examples = os.environ.get("FUZZ_EXAMPLES", examples)
    seed = ["--seed", "20261127"] if "FUZZ_EXAMPLES" not in os.environ else []
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            ",".join(checks),
            "--max-examples",
            examples,
            *seed,
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", result.stdout)
    assert selected and selected.group(1) == selected.group(2), result.stdout[-3000:]


def test_schemathesis_finds_no_server_errors_or_schema_violations(api: Server, tmp_path: Path) -> None:
    fuzz(api, tmp_path, "40", CHECKS)


def test_schemathesis_with_an_api_key_finds_no_errors_and_no_open_route(
    keyed_api: Server, tmp_path: Path
) -> None:
    before = scrape(keyed_api)
    fuzz(keyed_api, tmp_path, "5", [*CHECKS, "ignored_auth"], "--header", f"X-API-Key: {keyed_api.api_key}")
    after = scrape(keyed_api)
    # The key got the requests through to the routes (not a run of 401s only), and ignored_auth's
    # requests without it were refused.
    for route, method in [("/search", "GET"), ("/search", "POST"), ("/similar/{image_id}", "GET")]:
        assert requests(after, route, method, "200") > requests(before, route, method, "200"), route
    refused = ("imagesearch_access_refused_total", (("reason", "missing_key"),))
    assert after.get(refused, 0.0) > before.get(refused, 0.0)

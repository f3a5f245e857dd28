"""Schemathesis against the live API's OpenAPI schema: no 5xx, every response as documented.

`make test` runs a bounded number of examples with a fixed seed; `make fuzz` runs a long,
randomly seeded session (FUZZ_EXAMPLES) against the same kind of server.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

from support.servers import Server

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)


def test_schemathesis_finds_no_server_errors_or_schema_violations(api: Server, tmp_path: Path) -> None:
    examples = os.environ.get("FUZZ_EXAMPLES", "40")
    seed = ["--seed", "20261127"] if "FUZZ_EXAMPLES" not in os.environ else []
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{api.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            examples,
            *seed,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", result.stdout)
    assert selected and selected.group(1) == selected.group(2), result.stdout[-3000:]

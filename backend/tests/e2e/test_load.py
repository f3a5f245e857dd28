"""The short version of `make load`: concurrent text and image searches, zero failures."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_short_load_run_has_no_failed_requests() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_test.py"), "--clients", "25", "--seconds", "8"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = dict(line.rsplit(None, 1) for line in result.stdout.splitlines() if line.strip())
    assert lines["failed requests"] == "0"
    assert int(lines["requests (text + image)"]) > 25


def test_refuses_targets_off_this_machine() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "load_test.py"), "--url", "http://10.0.0.1:8000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "only target this machine" in result.stderr

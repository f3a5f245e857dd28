"""The pipeline command line in a subprocess, optionally SIGKILLed at a chosen point.

``crash=(point, after)`` runs it through tests/support/crashpoint.py, which kills the process
after ``after`` calls at ``point`` (fetch | encode | stage | commit); the pipeline code is the
real one either way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.paths import BACKEND_DIR, SUPPORT_DIR


def pipeline_process(
    env: dict[str, str], source: Path, *args: str, crash: tuple[str, int] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``run_pipeline.py SOURCE --quiet ARGS`` with ``env``; returns the finished process."""
    script = BACKEND_DIR / "run_pipeline.py"
    if crash is not None:
        env = env | {"CRASH_AT": crash[0], "CRASH_AFTER": str(crash[1])}
        script = SUPPORT_DIR / "crashpoint.py"
    command = [sys.executable, str(script), str(source), "--quiet", *args]
    return subprocess.run(command, env=env, capture_output=True, timeout=300)

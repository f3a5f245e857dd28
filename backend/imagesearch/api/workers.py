"""One server, several processes: who serves, what the workers share, and how metrics add up.

``uvicorn search_api:app --workers N`` starts a supervisor that binds the socket and *spawns* N
workers (multiprocessing's spawn context): each is a fresh interpreter that imports ``search_api``
itself; the supervisor never imports the app. A worker therefore knows it is one from
``multiprocessing.parent_process()`` (None in a lone ``uvicorn search_api:app``), and finds the
folder it shares with its siblings from the supervisor's pid and start time: the *run folder*
``<IMAGESEARCH_RUN_DIR>/<pid>-<start time>``. The start time keeps a recycled pid (a container's
supervisor is pid 1 at every start) from reusing the folder of an earlier run.

The run folder holds prometheus_client's multiprocess files (``metrics/``, the client library's
multiprocess mode: each worker writes its own memory-mapped file and ``GET /metrics`` on any
worker adds them all up) and the reload generation (``api/reload_generation.py``). The mode must
be chosen before prometheus_client is first imported (it reads ``PROMETHEUS_MULTIPROC_DIR`` then),
so ``imagesearch.api`` settles it on import, before any of its modules imports the client.

Cleaning up: the folders of supervisors that are gone are removed when a worker starts; a worker
that exits marks itself dead (its live gauges disappear; its counters stay in the totals, as
Prometheus expects of counters), and a starting worker does the same for siblings that died
without exiting cleanly. An operator who sets ``PROMETHEUS_MULTIPROC_DIR`` (e.g. under another
process manager) gets that folder used as it is: clearing it between runs is then theirs to do.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from imagesearch.config import Settings

if TYPE_CHECKING:  # prometheus_client is imported only once the mode is settled
    from prometheus_client import CollectorRegistry

logger = logging.getLogger(__name__)

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_RUN_NAME = re.compile(r"^(\d+)-(\d+)$")
_METRICS_FILE = re.compile(r"_(\d+)\.db$")


@dataclass(frozen=True)
class ServingProcess:
    """How this process serves: ``run_dir`` is None for a lone server (per-process metrics)."""

    run_dir: Path | None = None
    metrics_dir: Path | None = None

    @property
    def shared(self) -> bool:
        return self.metrics_dir is not None


def supervisor_run_name(pid: int) -> str | None:
    """``<pid>-<start time>`` of a live process, or None when there is no such process."""
    try:
        return f"{pid}-{int(psutil.Process(pid).create_time() * 1000)}"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def remove_stale_runs(base: Path) -> list[Path]:
    """Remove the run folders in ``base`` whose supervisor is gone; the folders removed.

    Only names of the ``<pid>-<start time>`` form are touched; a live supervisor's folder (its pid
    alive with that start time) is kept, whoever's it is.
    """
    removed = []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        match = _RUN_NAME.match(folder.name)
        if match and folder.is_dir() and supervisor_run_name(int(match[1])) != folder.name:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def mark_dead_workers(metrics_dir: Path) -> list[int]:
    """Mark the processes whose metrics files are in ``metrics_dir`` but that are gone as dead."""
    from prometheus_client import multiprocess

    pids = {int(m[1]) for f in metrics_dir.glob("*.db") if (m := _METRICS_FILE.search(f.name))}
    dead = sorted(pid for pid in pids if not psutil.pid_exists(pid))
    for pid in dead:
        multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]
    return dead


def prepare_process(settings: Settings) -> ServingProcess:
    """Settle how this process keeps metrics; call before prometheus_client is imported."""
    if settings.prometheus_multiproc_dir is not None:  # the operator's folder, as it is
        metrics_dir = settings.prometheus_multiproc_dir
        metrics_dir.mkdir(parents=True, exist_ok=True)
        return _shared(metrics_dir, metrics_dir)
    parent = multiprocessing.parent_process()
    name = supervisor_run_name(parent.pid) if parent is not None and parent.pid is not None else None
    if name is None:
        return ServingProcess()
    base = settings.run_dir
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private(base)
    remove_stale_runs(base)
    run_dir = base / name
    metrics_dir = run_dir / "metrics"
    metrics_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ[METRICS_ENV] = str(metrics_dir)  # what prometheus_client reads when it loads
    return _shared(run_dir, metrics_dir)


def check_private(base: Path) -> None:
    """Refuse a run folder someone else owns or may write to (in a shared temp folder, another user
    could have made it first, to feed this server's metrics or reloads)."""
    if not hasattr(os, "getuid"):
        return
    status = base.stat()
    if status.st_uid != os.getuid() or status.st_mode & 0o022:
        raise RuntimeError(
            f"{base} (IMAGESEARCH_RUN_DIR) belongs to another user or is writable by others: "
            "remove it, or point IMAGESEARCH_RUN_DIR at a folder of this user's"
        )


def _shared(run_dir: Path, metrics_dir: Path) -> ServingProcess:
    values = sys.modules.get("prometheus_client.values")
    if values is not None and not getattr(values.ValueClass, "_multiprocess", False):
        raise RuntimeError(
            "prometheus_client was imported before imagesearch.api set up multiprocess metrics; "
            "import imagesearch.api first, or /metrics would count one worker only"
        )
    mark_dead_workers(metrics_dir)
    logger.info("worker %d: metrics shared with the other workers in %s", os.getpid(), metrics_dir)
    return ServingProcess(run_dir=run_dir, metrics_dir=metrics_dir)


def metrics_registry(process: ServingProcess) -> CollectorRegistry:
    """What ``GET /metrics`` renders: this process's registry, or every worker's files added up."""
    from prometheus_client import CollectorRegistry, multiprocess

    from imagesearch.telemetry import REGISTRY

    if process.metrics_dir is None:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(process.metrics_dir))  # type: ignore[no-untyped-call]
    return registry


def mark_exited(process: ServingProcess) -> None:
    """This worker is leaving: drop its live gauges from the totals."""
    if process.metrics_dir is not None:
        from prometheus_client import multiprocess

        with contextlib.suppress(OSError):
            multiprocess.mark_process_dead(os.getpid(), str(process.metrics_dir))  # type: ignore[no-untyped-call]


SERVING = prepare_process(Settings())

"""`make load`: wrk at 1, 8 and 200 connections, distinct text queries, with and without load shedding.

    .venv/bin/python bench/load_wrk.py [--seconds 60] [--short-seconds 15] [--connections 1 8 200]
                                       [--images 3000] [--budget 0.5]

Builds a ViT-B-32 index (deterministic random weights: the real architecture and cost) the way
bench/bench_api.py does: 8 real images through the pipeline, grown to ``--images`` vectors with
clustered random unit vectors and the index type the pipeline would choose. Then serves it with
``uvicorn search_api:app`` twice, in the same run: with load shedding (``--budget``, default the
setting's default) and without (``IMAGESEARCH_QUEUE_BUDGET_S=0``: every request waits its turn,
the "before"). Each server gets Debian's wrk with bench/load/distinct_queries.lua (distinct
queries; one connection per wrk thread, so the script times each request and keeps the latency
of the accepted ones apart from the 503s: wrk's own statistics mix both) at each connection
count: the largest for ``--seconds``, 8 for ``--reference-seconds``, the others for
``--short-seconds``. With shedding the
largest count runs twice: clients that wait Retry-After after a 503 (as the UI does and the docs
ask), and clients that send their next request at once (the worst case). Each row at the largest
count is followed by one at 8 connections, so it lies between two measurements of the peak on
the same server (this VM's speed drifts over minutes).

Per row: accepted requests/s, 503s, other errors (any other status, and wrk's socket errors and
timeouts), p50 / p99 of the accepted requests, and the server's own count of shed searches
(``imagesearch_searches_shed_total``). Then issue 18's criteria for the largest rows with
shedding, each against the mean of the 8-connection rows just before and after it (the plateau
where throughput peaks, measured around it); exits 1 if one fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import build_large_index  # noqa: E402
from bench_core import random_vit_b32  # noqa: E402
from support.metrics import scrape  # noqa: E402
from support.servers import Server, serving  # noqa: E402

from imagesearch.config import Settings  # noqa: E402

SCRIPT = ROOT / "bench" / "load" / "distinct_queries.lua"
SHED = "imagesearch_searches_shed_total"
QUEUED = "imagesearch_search_queue_searches"
OFF = "0 (off: before)"


@dataclass
class Row:
    setting: str
    connections: int
    honour: bool
    seconds: float
    statuses: dict[int, int]
    socket_errors: int
    accepted_ms: list[float]
    shed_by_server: int = 0

    @property
    def accepted_per_s(self) -> float:
        return self.statuses.get(200, 0) / self.seconds

    @property
    def other_errors(self) -> int:
        others = sum(count for status, count in self.statuses.items() if status not in (200, 503))
        return others + self.socket_errors

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.accepted_ms, q)) if self.accepted_ms else float("nan")


@dataclass(frozen=True)
class Run:
    connections: int
    seconds: float
    honour: bool


def run_wrk(url: str, run: Run, out: Path) -> tuple[dict[int, int], int, list[float]]:
    """wrk with the script: (status -> count, socket errors, accepted latencies in ms)."""
    env = os.environ | {
        "WRK_OUT": str(out),
        "WRK_SEED": str(run.connections),
        "WRK_HONOUR_RETRY_AFTER": "1" if run.honour else "0",
    }
    threads = f"-t{run.connections}"
    command = ["wrk", threads, f"-c{run.connections}", f"-d{run.seconds:g}s", "--timeout", "40s"]
    subprocess.run([*command, "-s", str(SCRIPT), url], env=env, check=True, capture_output=True)
    statuses: dict[int, int] = {}
    accepted, socket_errors = [], 0
    for line in out.read_text().splitlines():
        kind, *values = line.split()
        if kind == "ms":
            accepted.append(float(values[0]))
        elif kind == "status":
            statuses[int(values[0])] = int(values[1])
        elif kind == "error":
            socket_errors += int(values[1])
    return statuses, socket_errors, accepted


def shed_count(server: Server) -> int:
    return int(sum(value for (name, _), value in scrape(server).items() if name == SHED))


def drain(server: Server, timeout_s: float = 120.0) -> None:
    """Wait until the searches wrk left behind are done, so a row starts on an idle server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and scrape(server).get((QUEUED, ()), 0.0) > 0:
        time.sleep(0.5)


def measure(server: Server, setting: str, runs: list[Run], tmp: Path) -> list[Row]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for n in range(20):  # warm-up
            client.get("/search", params={"query": f"warm up query number {n}"})
    rows = []
    for number, run in enumerate(runs):
        drain(server)
        before = shed_count(server)
        statuses, errors, accepted = run_wrk(server.url, run, tmp / f"wrk-{number}.txt")
        row = Row(setting, run.connections, run.honour, run.seconds, statuses, errors, accepted)
        row.shed_by_server = shed_count(server) - before
        rows.append(row)
    return rows


HEADER = (
    "row",
    "queue budget",
    "connections",
    "clients after a 503",
    "seconds",
    "accepted req/s",
    "503s",
    "other errors",
    "accepted p50 ms",
    "accepted p99 ms",
    "shed (server)",
)


def table(rows: list[Row]) -> str:
    cells = [
        (
            str(number),
            row.setting,
            str(row.connections),
            ("wait Retry-After" if row.honour else "retry at once") if row.statuses.get(503) else "-",
            f"{row.seconds:g}",
            f"{row.accepted_per_s:.1f}",
            str(row.statuses.get(503, 0)),
            str(row.other_errors),
            f"{row.percentile(50):.0f}",
            f"{row.percentile(99):.0f}",
            str(row.shed_by_server),
        )
        for number, row in enumerate(rows, start=1)
    ]
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def criteria(rows: list[Row], checked: list[int], reference: int) -> list[tuple[str, bool]]:
    """Issue 18's checks on the ``checked`` rows (at the largest count, with shedding), each
    against the peak at ``reference`` connections measured around it (``bracketing_peak``)."""
    out = []
    for number in checked:
        row = rows[number]
        how = "clients wait Retry-After" if row.honour else "clients retry at once"
        p99 = row.percentile(99)
        peak, higher = bracketing_peak(rows, number, reference)
        share = row.accepted_per_s / peak if peak else 0.0
        out += [
            (f"{how}: p99 of accepted <= 1000 ms: {p99:.0f} ms", p99 <= 1000),
            (f"{how}: no error other than 503: {row.other_errors}", row.other_errors == 0),
            (
                f"{how}: accepted {row.accepted_per_s:.1f} req/s >= 90 % of the peak at {reference} "
                f"connections measured just before and after it ({peak:.1f} req/s, the mean; the "
                f"higher {higher:.1f}): {share:.0%}",
                share >= 0.9,
            ),
        ]
    return out


def plans(args: argparse.Namespace) -> tuple[list[Run], list[Run]]:
    """(runs with shedding, runs without): each row at the largest count between two rows at the
    reference count, so it is compared with the peak measured around it on the same server; with
    shedding the largest count runs twice (clients that wait Retry-After, then at once)."""
    *small, largest = sorted(args.connections)
    before = [
        Run(c, args.reference_seconds if c == reference_count(args.connections) else args.short_seconds, True)
        for c in small
    ]
    bracket = Run(reference_count(args.connections), args.reference_seconds, True)
    return (
        [*before, Run(largest, args.seconds, True), bracket, Run(largest, args.seconds, False), bracket],
        [*before, Run(largest, args.seconds, False), bracket],
    )


def reference_count(connections: list[int]) -> int:
    """The count whose throughput is the peak to compare with: 8 (where the plateau starts on 2
    cores), or the largest count below the largest when 8 is not measured."""
    *small, largest = sorted(connections)
    return 8 if 8 in small else max(small, default=largest)


def bracketing_peak(rows: list[Row], number: int, reference: int) -> tuple[float, float]:
    """The peak rate around row ``number``: the mean and the higher of the accepted rates of the
    nearest ``reference``-connection rows before and after it on the same server.

    The plateau that starts at 8 connections is the peak of throughput against connections; on
    this VM its measurement drifts by tens of percent over minutes (the same matrix product, 5 s
    at a time, ran 416-576 times; two identical 8-connection rows of one run 34 % apart; the
    same 1-connection row 36 % apart on two servers of the same code), so the plateau is
    measured just before and after each row, and their mean is the estimate compared with."""
    row = rows[number]
    key = (row.setting, reference)
    same = [i for i, other in enumerate(rows) if (other.setting, other.connections) == key]
    around = [
        rows[i].accepted_per_s
        for i in [i for i in same if i < number][-1:] + [i for i in same if i > number][:1]
    ]
    return (float(np.mean(around)), max(around)) if around else (0.0, 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the largest rows")
    parser.add_argument("--short-seconds", type=float, default=15.0, help="length of the other rows")
    parser.add_argument(
        "--reference-seconds", type=float, default=30.0, help="length of the rows at 8 connections"
    )
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 200])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--budget", type=float, default=Settings().queue_budget_s, help="queue budget, s")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed: `make load` installs Debian's (apt-get install wrk)")
    shedding, before = plans(args)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = random_vit_b32(tmp, 32)
        described = build_large_index(settings, tmp / "images", args.images)
        for budget, runs in ((args.budget, shedding), (0.0, before)):
            env = {"IMAGESEARCH_QUEUE_BUDGET_S": f"{budget:g}"}
            setting = f"{budget:g} s" if budget else OFF
            with serving(settings, tmp / f"api-{budget:g}.log", env, timeout_s=600) as server:
                rows += measure(server, setting, runs, tmp)
    largest, reference = max(args.connections), reference_count(args.connections)
    checked = [i for i, row in enumerate(rows) if row.connections == largest and row.setting != OFF]
    print(f"index: {args.images:,} vectors, {described}; ViT-B-32 (random weights), distinct text queries")
    print(table(rows))
    highest = max((row.accepted_per_s for row in rows if row.connections == reference), default=0.0)
    for number in checked:  # said, not checked: the drift between servers shows in it
        share = rows[number].accepted_per_s / highest if highest else 0.0
        print(f"(row {number + 1}: {share:.0%} of the highest {reference}-connection row, {highest:.1f})")
    checks = criteria(rows, checked, reference)
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

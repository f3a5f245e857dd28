"""The serving side of bench_scale.py: load a saved bundle in a fresh process and measure it.

A fresh (spawned) process, so its RSS is what a server that loads this index holds, not what the
build left behind. RSS is read from /proc/self/smaps: the mapped vectors file's resident pages
(the page cache the re-ranking touched, shared and evictable) are reported apart from the rest.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.config import VECTORS_RELPATH, Settings
from imagesearch.index.store import load_bundle

COLD_NOTE = (
    "cold: the vectors file was fsynced and its pages dropped from the page cache with "
    "posix_fadvise(POSIX_FADV_DONTNEED) after the load (whose checksum pass had read it), before "
    "the first pass; warm: the same queries again. One-stage indexes have no vectors file: their "
    "first pass is as warm as the second. RSS excludes the mapped vectors file (shown apart, "
    "'vec MB'); it includes the URL list (short ids here). majflt: major page faults in the pass."
)
_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def rss_mb(vectors_file: Path) -> tuple[float, float]:
    """(resident MB of this process without ``vectors_file``'s mapping, resident MB of that mapping)."""
    total = mapped = 0
    in_file = False
    with Path("/proc/self/smaps").open() as smaps:
        for line in smaps:
            if _MAPPING.match(line):
                fields = line.split(maxsplit=5)
                in_file = len(fields) == 6 and fields[5].strip() == str(vectors_file)
            elif line.startswith("Rss:"):
                kb = int(line.split()[1])
                total += kb
                mapped += kb if in_file else 0
    return (total - mapped) / 1024, mapped / 1024


def drop_cache(path: Path) -> None:
    """Evict ``path``'s pages from the page cache (only pages no process has mapped are evicted)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed_pass(index: Any, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """One query per call on one thread: (ids (q, 10), latencies ms (q,), major faults)."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_majflt
    ids = np.empty((len(queries), 10), dtype=np.int64)
    latencies = np.empty(len(queries))
    for row, query in enumerate(queries):
        started = time.perf_counter()
        ids[row] = index.search(query[None, :], 10)[1][0]
        latencies[row] = (time.perf_counter() - started) * 1000
    return ids, latencies, resource.getrusage(resource.RUSAGE_SELF).ru_majflt - faults


def measure(bundle: str, queries_file: str, latency_queries: int) -> dict[str, Any]:
    """Load ``bundle`` with the project's loader, then recall and cold / warm latency."""
    settings = Settings(data_dir=Path(bundle))
    vectors = (settings.data_dir / VECTORS_RELPATH).resolve()
    data = np.load(queries_file)
    queries, truth = data["queries"], data["truth"]
    faiss.omp_set_num_threads(1)
    rss_start, _ = rss_mb(vectors)
    started = time.perf_counter()
    loaded = load_bundle(settings)
    load_s = time.perf_counter() - started
    rss_load, _ = rss_mb(vectors)
    if vectors.exists():
        drop_cache(vectors)
    sample = queries[:latency_queries]
    _, cold, cold_faults = timed_pass(loaded.index, sample)
    rss_cold, vec_cold = rss_mb(vectors)
    _, warm, warm_faults = timed_pass(loaded.index, sample)
    ids = loaded.index.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth, strict=True)])
    rss_warm, vec_warm = rss_mb(vectors)
    return {
        "index_mb": settings.index_path.stat().st_size / 1e6,
        "vectors_mb": vectors.stat().st_size / 1e6 if vectors.exists() else 0.0,
        "load_s": load_s,
        "rss_start_mb": rss_start,
        "rss_load_mb": rss_load,
        "rss_queries_mb": max(rss_cold, rss_warm),
        "vec_rss_cold_mb": vec_cold,
        "vec_rss_warm_mb": vec_warm,
        "recall_at_10": float(recall),
        "cold_p50_ms": float(np.percentile(cold, 50)),
        "cold_p99_ms": float(np.percentile(cold, 99)),
        "warm_p50_ms": float(np.percentile(warm, 50)),
        "warm_p99_ms": float(np.percentile(warm, 99)),
        "majflt_cold": cold_faults,
        "majflt_warm": warm_faults,
    }


COLUMNS = {
    "data": "{}",
    "n": "{:,}",
    "index": "{}",
    "build": "{}",
    "knobs": "{}",
    "build_s": "{:.1f}",
    "index_mb": "{:.0f}",
    "vectors_mb": "{:.0f}",
    "load_s": "{:.2f}",
    "rss_load_mb": "{:.0f}",
    "rss_queries_mb": "{:.0f}",
    "vec_rss_cold_mb": "{:.1f}",
    "vec_rss_warm_mb": "{:.1f}",
    "tuned_recall": "{:.3f}",
    "recall_at_10": "{:.3f}",
    "cold_p50_ms": "{:.2f}",
    "cold_p99_ms": "{:.2f}",
    "warm_p50_ms": "{:.2f}",
    "warm_p99_ms": "{:.2f}",
    "majflt_cold": "{}",
    "majflt_warm": "{}",
}
HEADINGS = (
    "data | n | index | build | knobs | build s | index MB | vectors file MB | load s | RSS load MB | "
    "RSS queries MB | vec MB cold | vec MB warm | tuned recall | recall@10 | cold p50 | cold p99 | "
    "warm p50 | warm p99 | majflt cold | majflt warm"
)


def format_rows(rows: list[dict[str, Any]], header: bool) -> str:
    """Markdown rows (with the heading when ``header``); a skipped row says why in its 'build' cell."""
    lines = [f"| {HEADINGS} |", "|" + "---|" * len(COLUMNS)] if header else []
    for row in rows:
        if row.get("status", "ok") != "ok":
            cells = [str(row["data"]), f"{row['n']:,}", row["index"], row["status"]] + ["-"] * (
                len(COLUMNS) - 4
            )
        else:
            cells = [
                fmt.format(row[name]) if row.get(name) is not None else "-" for name, fmt in COLUMNS.items()
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine_line() -> str:
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    return (
        f"machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, faiss "
        f"{faiss.__version__} ({faiss.get_compile_options().strip() or 'generic'}); build on all cores, "
        "queries on 1 thread"
    )

"""Scale benchmark (issue 19): index types side by side at 100k, 1M and (opt-in) 10M vectors.

    .venv/bin/python bench/bench_scale.py                        # 100k and 1M, both data kinds
    .venv/bin/python bench/bench_scale.py --sizes 10000000 --data fitted

Each index is built through the project's ``build_index`` (above what RAM holds, the two-stage
index by streaming: ``build_two_stage`` + ``write_vectors_file``), saved with ``save_bundle`` and
measured in a fresh process that loads it with ``load_bundle`` (checksums verified, vectors file
memory-mapped), as the API does. Rows: build time (train + add + tuning), the first stage's file
size, the vectors file's size, RSS after load and after queries without the mapped vectors file
(whose resident pages are reported apart), recall@10 on held-out queries against exact search,
and p50/p99 of single-threaded queries, cold (the vectors file's pages dropped from the page cache
with posix_fadvise DONTNEED after an fsync) then warm (the same queries again). Vectors, ground
truth and finished rows live in --work-dir and are reused: a rerun skips finished rows.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "bench"))

import scale_data  # noqa: E402
import scale_measure  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.index.factory import (  # noqa: E402
    build_index,
    build_two_stage,
    choose_factory,
    choose_nlist,
    resident_bytes,
)
from imagesearch.index.index_files import map_vectors_file, write_vectors_file  # noqa: E402
from imagesearch.index.manifest import Manifest  # noqa: E402
from imagesearch.index.store import save_bundle  # noqa: E402
from imagesearch.index.tuning import exact_search  # noqa: E402

logger = logging.getLogger("bench_scale")
DIM = scale_data.DIM
QUERIES = 1000
RAM_SHARE = 0.5  # an in-RAM build copies the vectors once: it must fit in this share of free RAM


def factories(n: int, memory_gb: float) -> list[str]:
    """Flat, HNSW, IVF-Flat and the two-stage index the chooser picks when IVF-Flat is over the
    budget (the budget of the largest code it allows, at the smallest sizes)."""
    nlist = choose_nlist(n)
    two_stage = choose_factory(n, DIM, Settings(index_memory_gb=memory_gb, flat_max_vectors=0))
    if not two_stage.endswith(",RFlat"):  # IVF-Flat fits: the pick of a budget it does not fit
        two_stage = choose_factory(n, DIM, Settings(index_memory_gb=1e-12, flat_max_vectors=0))
    return ["Flat", "HNSW32,Flat", f"IVF{nlist},Flat", two_stage]


def dataset(kind: str, n: int, work_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(base (n, 512) memory map, held-out queries (QUERIES, 512)) of one data kind."""
    started = time.perf_counter()
    if kind == "synthetic":
        base = scale_data.materialise(
            work_dir / f"synthetic-{n}.npy", n, scale_data.synthetic_chunks(n, seed=1)
        )
        queries = next(scale_data.synthetic_chunks(QUERIES, seed=2))
    else:
        model = fitted_model(work_dir)
        base = scale_data.materialise(
            work_dir / f"fitted-{n}.npy", n, scale_data.fitted_chunks(model, n, seed=1)
        )
        queries = next(scale_data.fitted_chunks(model, QUERIES, seed=2))
    logger.info("%s %d vectors ready in %.1f s", kind, n, time.perf_counter() - started)
    return base, queries


@functools.cache
def fitted_model(work_dir: Path) -> scale_data.FittedModel:
    """Fitted once per run (deterministic, seconds) from the cached real features; says how well."""
    started = time.perf_counter()
    real = scale_data.reduce_real(scale_data.real_features(work_dir))
    model = scale_data.fit_model(real)
    print("\n".join(scale_data.describe_fit(real, model)), flush=True)
    logger.info("fitted model ready in %.1f s (features included)", time.perf_counter() - started)
    return model


def ground_truth(base: np.ndarray, queries: np.ndarray, path: Path) -> np.ndarray:
    """Exact top-10 ids (QUERIES, 10) of the queries, by blocks over the memory map; cached."""
    if not path.exists():
        started = time.perf_counter()
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        np.save(path, exact_search(base, queries, 10)[1])
        logger.info("exact top-10 in %.1f s", time.perf_counter() - started)
    return np.load(path)


def fits_in_ram(n: int) -> bool:
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return n * DIM * 4 <= RAM_SHARE * available


def build(
    factory: str, base: np.ndarray, bundle: Path, stream: bool, memory_gb: float
) -> tuple[Any, Any, str]:
    """(index, tuning, how) built through the project's own code: in RAM or by streaming."""
    settings = Settings(index_factory=factory, index_memory_gb=memory_gb)  # lists on disk if over
    if factory.endswith(",RFlat") and stream:
        bundle.mkdir(parents=True, exist_ok=True)
        streamed = bundle / "streamed-vectors.faiss"  # save_bundle moves it into the commit
        write_vectors_file(streamed, scale_data.chunks_of(base), len(base), DIM)
        index, tuning = build_two_stage(base, settings, map_vectors_file(streamed), streamed)
        return index, tuning, "streamed"
    return *build_index(base, settings), "in RAM"


def build_and_save(
    factory: str, base: np.ndarray, bundle: Path, stream: bool, memory_gb: float
) -> dict[str, Any]:
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    started = time.perf_counter()
    index, tuning, how = build(factory, base, bundle, stream, memory_gb)
    build_s = time.perf_counter() - started
    manifest = Manifest(
        encoder_id="bench",
        model="bench_scale",
        pretrained="",
        dim=DIM,
        count=len(base),
        index_type="",
        index_factory=tuning.factory,
        search_params=tuning.search_params,
        recall_at_10=tuning.recall_at_10,
    )
    started = time.perf_counter()
    save_bundle(Settings(data_dir=bundle), index, [str(i) for i in range(len(base))], manifest)
    save_s = time.perf_counter() - started
    del index
    gc.collect()
    params = ",".join(f"{k}={v}" for k, v in tuning.search_params.items()) or "-"
    return {
        "build": how,
        "build_s": build_s,
        "save_s": save_s,
        "knobs": params,
        "tuned_recall": tuning.recall_at_10,
    }


def run_row(
    key: dict[str, Any], base: np.ndarray, work_dir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    factory, n = key["index"], key["n"]
    resident = resident_bytes(factory, n, DIM, Settings(index_memory_gb=args.memory_gb))
    if factory != "Flat" and resident > args.memory_gb * 1e9:
        return {**key, "status": f"skipped: over budget ({resident / 1e9:.2f} GB)"}
    stream = factory.endswith(",RFlat") and (args.stream or not fits_in_ram(n))
    if not stream and not fits_in_ram(n):
        return {**key, "status": "skipped: vectors do not fit in RAM (Flat: exact top-10 by blocks only)"}
    bundle = work_dir / "bundles" / f"{key['data']}-{n}-{factory.replace(',', '_')}"
    shutil.rmtree(bundle, ignore_errors=True)
    try:
        built = build_and_save(factory, base, bundle, stream, args.memory_gb)
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            measured = pool.submit(
                scale_measure.measure, str(bundle), str(work_dir / "queries.npz"), args.latency_queries
            ).result()
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
    return {**key, "status": "ok", **built, **measured}


def run_size(
    kind: str, n: int, work_dir: Path, args: argparse.Namespace, done: set[tuple[str, int, str]]
) -> None:
    todo = [
        f
        for f in factories(n, args.memory_gb)
        if (kind, n, f) not in done and (not args.only or f.startswith(tuple(args.only)))
    ]
    if not todo:
        return
    base, queries = dataset(kind, n, work_dir)
    truth = ground_truth(base, queries, work_dir / f"{kind}-{n}-truth.npy")
    np.savez(work_dir / "queries.npz", queries=queries, truth=truth)
    for factory in todo:
        key = {"data": kind, "n": n, "index": factory}
        logger.info("%s", key)
        started = time.perf_counter()
        row = {**run_row(key, base, work_dir, args), "row_s": time.perf_counter() - started}
        with (work_dir / "results.jsonl").open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(scale_measure.format_rows([row], header=False), flush=True)
    if not args.keep_data:
        del base
        (work_dir / f"{kind}-{n}.npy").unlink(missing_ok=True)  # regenerated identically if needed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--data", nargs="+", choices=["synthetic", "fitted"], default=["synthetic", "fitted"])
    parser.add_argument("--memory-gb", type=float, default=1.5, help="RAM cap of an index (Flat is exempt)")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "bench" / ".work" / "scale")
    parser.add_argument("--latency-queries", type=int, default=300, help="single queries timed per pass")
    parser.add_argument(
        "--stream", action="store_true", help="build the two-stage index by streaming at every size"
    )
    parser.add_argument("--only", nargs="+", help="only index types starting so (e.g. Flat IVF HNSW)")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep each size's vectors file after its rows"
    )
    return parser.parse_args()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    results = args.work_dir / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    done = {(row["data"], row["n"], row["index"]) for row in rows}
    print(scale_measure.machine_line(), flush=True)
    for n in args.sizes:
        for kind in args.data:
            run_size(kind, n, args.work_dir, args, done)
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    print(f"\nall rows in {results}:\n{scale_measure.COLD_NOTE}\n")
    print(scale_measure.format_rows(rows, header=True))
    print(f"\nrun time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

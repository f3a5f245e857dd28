"""Memory of the API with 1, 2 and 3 worker processes: RSS, PSS and USS of each process.

    .venv/bin/python bench/bench_workers.py [--model tiny|ViT-B-32] [--vectors 25000] [--workers 1 2 3]

Builds a real index the way the pipeline does (8 real images encoded by the model, grown to
``--vectors`` with random unit vectors, then ``index_factory.build_index``), serves it with
``uvicorn search_api:app --workers N`` and, once every worker has answered text and image
searches (a flat index is scanned whole by each search, so every worker has touched all of its
pages), reads each process's memory from /proc: RSS counts every page a process maps, shared or
not; PSS splits each shared page between the processes mapping it, so the PSS of the supervisor
and its workers adds up to what the server costs; USS is what a worker alone holds. The index
file's own mapping (``IMAGESEARCH_MMAP_MIN_BYTES``, default: always mapped) is read from
/proc/<pid>/smaps. ``--mmap-min-bytes`` larger than the index copies it into each worker instead.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))

from support.images import write_images  # noqa: E402
from support.paths import TINY_CONFIG, TINY_MODEL  # noqa: E402
from support.servers import free_port  # noqa: E402
from support.tiny import settings_env  # noqa: E402
from support.weights import save_random_checkpoint  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.index.factory import build_index  # noqa: E402
from imagesearch.index.store import load_bundle, save_bundle  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402

MB = 1024 * 1024


def model_settings(model: str, tmp: Path) -> Settings:
    extra = {"model_config_file": TINY_CONFIG} if model == "tiny" else {}
    settings = Settings(
        model=TINY_MODEL if model == "tiny" else model,
        pretrained=str(tmp / "weights.pt"),
        data_dir=tmp / "data",
        batch_size=8,
        **extra,  # type: ignore[arg-type]
    )
    save_random_checkpoint(settings, Path(settings.pretrained))
    return settings


def build(settings: Settings, folder: Path, vectors: int) -> list[Path]:
    images = write_images(folder, 8)
    run_pipeline(settings, PipelineOptions(source=folder, progress=False), load_encoder(settings))
    bundle = load_bundle(settings)
    real = bundle.index.reconstruct_n(0, bundle.index.ntotal)
    extra = np.random.default_rng(0).normal(size=(vectors - len(real), real.shape[1])).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    index, _ = build_index(np.concatenate([real, extra]), settings)
    urls = bundle.urls + [f"https://images.example.com/{n}.jpg" for n in range(len(extra))]
    save_bundle(settings, index, urls, bundle.manifest)
    return images


def index_mapping(pid: int, index_path: Path) -> tuple[float, float]:
    """(Rss, Pss) in MB of the index file's mappings in process ``pid``."""
    rss = pss = 0.0
    inside = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        fields = line.split()
        if "-" in fields[0] and len(fields) >= 5:  # a mapping's header line
            inside = len(fields) >= 6 and fields[5] == str(index_path)
        elif inside and fields[0] == "Rss:":
            rss += int(fields[1]) / 1024
        elif inside and fields[0] == "Pss:":
            pss += int(fields[1]) / 1024
    return rss, pss


def _rollup(pid: int, field: str) -> float:
    """One field of /proc/<pid>/smaps_rollup, in MB (Anonymous: memory no other process can map)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def warm_every_worker(url: str, workers: int, image: bytes) -> Counter[int]:
    """Text and image searches, each pair on a fresh connection (so on one worker, which then says
    its pid), until each worker has answered some."""

    def one(n: int) -> int:
        with httpx.Client(base_url=url, timeout=120) as http:  # one connection: one worker
            assert http.get("/search", params={"query": f"warm {n}"}).status_code == 200
            files = {"file": ("q.jpg", image, "image/jpeg")}
            assert http.post("/search-by-image", files=files).status_code == 200
            return int(http.get("/health/live").json()["pid"])

    answered: Counter[int] = Counter()
    with ThreadPoolExecutor(2 * workers) as pool:
        while (len(answered) < workers or min(answered.values()) < 3) and sum(answered.values()) < 400:
            answered.update(pool.map(one, range(4 * workers)))
    return answered


def measure(settings: Settings, workers: int, image: bytes, mmap_min_bytes: int) -> list[dict[str, object]]:
    port = free_port()
    env = settings_env(settings) | {"IMAGESEARCH_MMAP_MIN_BYTES": str(mmap_min_bytes)}
    command = [sys.executable, "-m", "uvicorn", "search_api:app", "--port", str(port)]
    command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT / "backend", env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while process.poll() is None and time.monotonic() < started + 900:
            try:
                if httpx.get(f"{url}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        ready_s = time.monotonic() - started
        answered = warm_every_worker(url, workers, image)
        time.sleep(1)
        rows = []
        for proc in [psutil.Process(process.pid), *psutil.Process(process.pid).children()]:
            info = proc.memory_full_info()
            role = "server" if workers == 1 else "supervisor" if proc.pid == process.pid else "worker"
            if "resource_tracker" in " ".join(proc.cmdline()):
                role = "resource tracker"  # multiprocessing's helper beside spawned workers
            anonymous = _rollup(proc.pid, "Anonymous:")
            mapped_rss, mapped_pss = index_mapping(proc.pid, settings.index_path)
            rows.append(
                {
                    "role": role,
                    "rss": info.rss / MB,
                    "pss": info.pss / MB,
                    "uss": info.uss / MB,
                    "anon": anonymous,
                    "index_rss": mapped_rss,
                    "index_pss": mapped_pss,
                    "answered": answered.get(proc.pid, 0),
                    "ready_s": ready_s,
                }
            )
        return rows
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny (the test model) or ViT-B-32")
    parser.add_argument("--vectors", type=int, default=25_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--mmap-min-bytes", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        settings = model_settings(args.model, tmp)
        image = build(settings, tmp / "images", args.vectors)[0].read_bytes()
        size = settings.index_path.stat().st_size / MB
        print(f"model {args.model}, {args.vectors} vectors, index file {size:.1f} MB")
        columns = "RSS MB | PSS MB | USS MB | anonymous MB | index file Rss / Pss MB | searches"
        print(f"| workers | process | {columns} |")
        print("|---|---|---|---|---|---|---|---|")
        totals = {}
        for workers in args.workers:
            rows = measure(settings, workers, image, args.mmap_min_bytes)
            for row in rows:
                print(
                    f"| {workers} | {row['role']} | {row['rss']:.0f} | {row['pss']:.0f} | {row['uss']:.0f} "
                    f"| {row['anon']:.0f} "
                    f"| {row['index_rss']:.0f} / {row['index_pss']:.0f} | {row['answered']} |"
                )
            totals[workers] = sum(float(row["pss"]) for row in rows)  # type: ignore[arg-type]
            ready = f"ready in {rows[0]['ready_s']:.0f} s"
            print(f"| {workers} | **total PSS** | | **{totals[workers]:.0f}** | | | | {ready} |")
        previous = None
        for workers, total in totals.items():
            if previous is not None:
                print(f"{workers} workers: +{total - totals[previous]:.0f} MB PSS over {previous}")
            previous = workers


if __name__ == "__main__":
    main()

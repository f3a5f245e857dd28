"""API memory and start-up time before/after the torch-free query encoder, in one run.

    .venv/bin/python bench/bench_memory.py [--vectors 25000] [--before 99b7be0]

Plants deterministic random ViT-B/32 weights as open_clip's ``openai`` tag in a scratch Hugging
Face cache (offline, as shared/MODELS.md describes), so both servers run the real default path
(``IMAGESEARCH_MODEL=ViT-B-32``, ``IMAGESEARCH_PRETRAINED=openai``, QuickGELU). Builds one index
with the pipeline (8 real images) grown to ``--vectors`` clustered unit vectors, then serves it
with ``uvicorn search_api:app`` four times:

- before, cold / warm: the code at ``--before`` (the commit before this change: the API loads
  open_clip's torch model and exports / loads the ONNX towers beside it), run from a temporary
  ``git worktree``; cold = empty cache (the towers are exported), warm = the same cache again;
- after, cold / warm: this checkout (the API runs the towers without torch; a child process
  exports them once), same two caches states.

For each: start-up time (process start to the first ``/health`` 200: imports, weights, export,
index, warm-up), the peak RSS of the whole process tree while starting (sampled every 0.1 s:
the export child counts), and the API process's RSS after 20 distinct text searches, 8
concurrent ones and 3 image uploads. Nothing is asserted; the table goes to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import build_large_index  # noqa: E402
from bench_latency import distinct_queries  # noqa: E402
from support.images import make_image  # noqa: E402
from support.servers import free_port  # noqa: E402
from support.tiny import settings_env  # noqa: E402
from support.weights import offline_env, plant_tag_weights, random_state_dict  # noqa: E402

from imagesearch.config import Settings  # noqa: E402

BEFORE_COMMIT = "99b7be0"  # the API with the torch model and the ONNX towers in one process
MIB = 1024 * 1024


@dataclass
class Run:
    name: str
    startup_s: float
    peak_tree_mib: float
    rss_mib: float
    query_runtime: str


def tree_rss(process: psutil.Process) -> int:
    """RSS of a process and all its children (the export child included), in bytes."""
    total = 0
    for each in [process, *process.children(recursive=True)]:
        with suppress(psutil.Error):  # a child that has just exited
            total += each.memory_info().rss
    return total


@contextmanager
def api(backend: Path, env: dict[str, str], log: Path) -> Iterator[tuple[str, psutil.Process, float, int]]:
    """A live API from ``backend`` (its own imagesearch), with its start-up time and peak tree RSS."""
    port = free_port()
    env = env | {"PYTHONPATH": str(backend)}
    command = [sys.executable, "-m", "uvicorn", "search_api:app", "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=backend, env=env, stdout=out, stderr=subprocess.STDOUT)
    watched, peak, url = psutil.Process(process.pid), 0, f"http://127.0.0.1:{port}"
    try:
        while True:
            peak = max(peak, tree_rss(watched))
            if process.poll() is not None:
                raise RuntimeError(f"the API exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url, watched, time.perf_counter() - started, peak
    finally:
        process.terminate()
        process.wait()


def exercise(url: str, queries: list[str]) -> str:
    """20 sequential and 8 concurrent distinct text searches, 3 uploads; returns /health's runtime."""
    with httpx.Client(base_url=url, timeout=120) as http:
        for text in queries[:20]:
            assert http.get("/search", params={"query": text}).status_code == 200
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(lambda q: http.get("/search", params={"query": q}).status_code, queries[20:28])
            )
        assert codes == [200] * 8, codes
        for seed in range(3):
            buffer = io.BytesIO()
            make_image(seed, (1600, 1200)).save(buffer, format="JPEG", quality=90)
            files = {"file": ("q.jpg", buffer.getvalue(), "image/jpeg")}
            assert http.post("/search-by-image", files=files).status_code == 200
        return str(http.get("/health").json()["query_runtime"])


def measure(name: str, backend: Path, env: dict[str, str], log: Path, queries: list[str]) -> Run:
    with api(backend, env, log) as (url, process, startup, peak):
        runtime = exercise(url, queries)
        rss = process.memory_info().rss
    run = Run(name, startup, peak / MIB, rss / MIB, runtime)
    print(
        f"{name}: start {startup:.1f} s, peak tree {run.peak_tree_mib:.0f} MiB, RSS {run.rss_mib:.0f} MiB",
        flush=True,
    )
    return run


@contextmanager
def checkout(commit: str, folder: Path) -> Iterator[Path]:
    """The backend of ``commit``, from a temporary git worktree (removed afterwards)."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), commit], check=True)
    try:
        yield folder / "backend"
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False)


def prepare(tmp: Path, vectors: int) -> tuple[dict[str, str], str]:
    """Planted default weights, the index, and the environment both servers get.

    huggingface_hub reads HF_HOME when it is imported, so the index is built by a child process
    (this script with ``--index-only``) that starts with the planted cache in its environment.
    """
    hf_home = tmp / "hf-home"
    plant_tag_weights(hf_home, "ViT-B-32", "openai", random_state_dict("ViT-B-32", seed=0))
    env = settings_env(index_settings(tmp)) | offline_env(hf_home)
    command = [sys.executable, __file__, "--index-only", str(tmp), "--vectors", str(vectors)]
    built = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return env, built.stdout.strip().splitlines()[-1]


def index_settings(tmp: Path) -> Settings:
    return Settings(model="ViT-B-32", pretrained="openai", data_dir=tmp / "data", cache_dir=tmp / "unused")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vectors", type=int, default=25_000)
    parser.add_argument("--before", default=BEFORE_COMMIT, help="commit of the 'before' API")
    parser.add_argument("--index-only", type=Path, help=argparse.SUPPRESS)  # the index-building child
    args = parser.parse_args()
    if args.index_only:
        print(build_large_index(index_settings(args.index_only), args.index_only / "images", args.vectors))
        return
    queries = distinct_queries(28)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env, described = prepare(tmp, args.vectors)
        runs = []
        with checkout(args.before, tmp / "before") as before:
            for variant, backend in (("before", before), ("after", ROOT / "backend")):
                cache = {"IMAGESEARCH_CACHE_DIR": str(tmp / f"cache-{variant}")}
                for state in ("cold", "warm"):
                    log = tmp / f"{variant}-{state}.log"
                    runs.append(measure(f"{variant}, {state} cache", backend, env | cache, log, queries))
    print(f"\nViT-B-32 (random weights, openai tag path), {args.vectors} vectors: {described}")
    print(f"{os.cpu_count()} CPUs; start-up times depend on contention, RSS hardly does\n")
    header = (
        "API",
        "start-up (s)",
        "peak RSS while starting, process tree (MiB)",
        "API RSS after queries (MiB)",
    )
    print("| " + " | ".join(header) + " | query runtime |")
    print("| --- | ---: | ---: | ---: | --- |")
    for run in runs:
        cells = (
            run.name,
            f"{run.startup_s:.1f}",
            f"{run.peak_tree_mib:.0f}",
            f"{run.rss_mib:.0f}",
            run.query_runtime,
        )
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

"""Batch vs single text queries over real HTTP (not a test; nothing is asserted).

Builds an index with the pipeline (full ViT-B-32 architecture with deterministic random weights,
the same cost as the real ones; ``--tiny``: the test-tiny-clip model, for a quick check), serves
it with ``uvicorn search_api:app`` and, for each N, times N sequential ``GET /search`` calls
against one ``POST /search/batch`` of N queries. Every query text is new (no text-cache hits).
Prints per-query milliseconds, the median of ``--rounds`` rounds.

    .venv/bin/python bench/bench_batch.py [--images 64] [--rounds 3] [--sizes 1 8 32 64] [--tiny]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))
sys.path.insert(0, str(ROOT / "backend" / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import WORDS, random_vit_b32  # noqa: E402
from support.images import write_images  # noqa: E402
from support.paths import TINY_CONFIG, TINY_MODEL  # noqa: E402
from support.servers import free_port  # noqa: E402
from support.tiny import settings_env  # noqa: E402
from support.weights import save_random_checkpoint  # noqa: E402

from imagesearch.config import Settings  # noqa: E402
from imagesearch.encoders.factory import load_encoder  # noqa: E402
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline  # noqa: E402


def tiny_clip(tmp: Path, batch_size: int) -> Settings:
    settings = Settings(
        model=TINY_MODEL,
        model_config_file=TINY_CONFIG,
        pretrained=str(tmp / "tiny.pt"),
        data_dir=tmp / "data",
        batch_size=batch_size,
    )
    save_random_checkpoint(settings, Path(settings.pretrained))
    return settings


def fresh_texts() -> Iterator[str]:
    """Distinct query texts forever: a few words plus a serial number."""
    for n in itertools.count():
        yield f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7) % len(WORDS)]} {WORDS[(n * 13) % len(WORDS)]} {n}"


def serve(settings: Settings) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "search_api:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT / "backend",
        env=settings_env(settings),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("the API did not start")


def time_round(client: httpx.Client, texts: Iterator[str], n: int) -> tuple[float, float]:
    """(single, batch) per-query ms for N queries."""
    singles = [next(texts) for _ in range(n)]
    started = time.perf_counter()
    for text in singles:
        client.get("/search", params={"query": text, "top_k": 10}).raise_for_status()
    single_ms = (time.perf_counter() - started) * 1000 / n
    batch = {"queries": [{"text": next(texts)} for _ in range(n)], "top_k": 10}
    started = time.perf_counter()
    client.post("/search/batch", json=batch).raise_for_status()
    batch_ms = (time.perf_counter() - started) * 1000 / n
    return single_ms, batch_ms


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=64, help="images in the index")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--tiny", action="store_true", help="test-tiny-clip instead of ViT-B-32 (quick)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        settings = tiny_clip(tmp, 32) if args.tiny else random_vit_b32(tmp, 32)
        write_images(tmp / "images", args.images)
        run_pipeline(settings, PipelineOptions(source=tmp / "images", progress=False), load_encoder(settings))
        server, url = serve(settings)
        texts = fresh_texts()
        rows = []
        try:
            with httpx.Client(base_url=url, timeout=300) as client:
                time_round(client, texts, 2)  # warm-up
                for n in args.sizes:
                    rounds = [time_round(client, texts, n) for _ in range(args.rounds)]
                    single = statistics.median(r[0] for r in rounds)
                    batch = statistics.median(r[1] for r in rounds)
                    rows.append((n, single, batch))
        finally:
            server.terminate()
            server.wait()
    model = TINY_MODEL if args.tiny else "ViT-B-32 (random weights)"
    sys.stdout.write(f"{model}, {args.images} images, median of {args.rounds} rounds, per-query ms\n")
    sys.stdout.write(f"{'N':>4}  {'N x GET /search':>16}  {'POST /search/batch':>18}  {'speed-up':>8}\n")
    for n, single, batch in rows:
        sys.stdout.write(f"{n:>4}  {single:>16.2f}  {batch:>18.2f}  {single / batch:>7.1f}x\n")


if __name__ == "__main__":
    main()

"""Recommended model/tag pairs on this machine: load time, index and query speed, memory.

Each model runs in a fresh process (so peak RSS is its own) with deterministic random weights,
built exactly as imagesearch builds it for the tag (activation included): the same arithmetic
and cost as the published weights, which cannot be downloaded here. Quality figures are not
measured (random weights have none): the README quotes published Crossmodal-3600 recall.

    .venv/bin/python bench/bench_models.py [--images 64] [--queries 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "backend"))

# (model, tag): the seed's default, the better weights for the same network, and the strongest
# model in Immich's CPU table that fits a small machine.
MODELS = (
    ("ViT-B-32", "openai"),
    ("ViT-B-32", "laion2b_s34b_b79k"),
    ("ViT-B-16-SigLIP2", "webli"),
)


def measure(model_name: str, tag: str, images: int, queries: int) -> dict[str, object]:
    """In this process: build, then time image batches of 32 and one-text queries (torch fp32)."""
    import open_clip
    import torch

    from imagesearch.config import Settings
    from imagesearch.encoders.weights import resolve_activation

    torch.set_num_threads(2)
    activation = resolve_activation(Settings(model=model_name), tag)
    started = time.perf_counter()
    torch.manual_seed(0)
    model = open_clip.create_model(model_name, pretrained=None, **activation.create_kwargs).eval()
    build_s = time.perf_counter() - started
    config = open_clip.get_model_config(model_name)
    size = config["vision_cfg"].get("image_size", 224)
    side = max(size) if isinstance(size, (list, tuple)) else size
    context = config["text_cfg"].get("context_length", 77)
    vocab = config["text_cfg"].get("vocab_size", 49408)
    # Token ids stand in for the tokenizer (SigLIP2's is downloaded from the hub): same cost.
    tokens = torch.randint(1, vocab - 1, (1, context))
    pixels = torch.randn(32, 3, side, side)
    with torch.inference_mode():
        model.encode_image(pixels[:2])
        model.encode_text(tokens)
        started = time.perf_counter()
        for _ in range(max(1, images // 32)):
            model.encode_image(pixels)
        image_s = (time.perf_counter() - started) / (max(1, images // 32) * 32)
        times = []
        for _ in range(queries):
            started = time.perf_counter()
            model.encode_text(tokens)
            times.append(time.perf_counter() - started)
    return {
        "model": model_name,
        "tag": tag,
        "activation": activation.name,
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "dim": int(config["embed_dim"]),
        "input": f"{side} px",
        "build_s": round(build_s, 1),
        "images_per_s": round(1 / image_s, 1),
        "text_query_ms": round(statistics.median(times) * 1000, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "TAG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1], args.images, args.queries)))
        return
    rows = []
    for model_name, tag in MODELS:
        command = [sys.executable, __file__, "--one", model_name, tag, "--images", str(args.images)]
        command += ["--queries", str(args.queries)]
        output = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(output.stdout.strip().splitlines()[-1]))
    columns = list(rows[0])
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row[column]) for column in columns) + " |")


if __name__ == "__main__":
    main()

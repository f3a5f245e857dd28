"""Other models are proven, not assumed: each against open_clip's own plain path.

For a ResNet CLIP trained with QuickGELU (``RN50``/``openai``, 1024-d), a timm ViT with its own
preprocessing (``PE-Core-T-16-384``/``meta``: 384 px, squashed, bilinear, mean/std 0.5, 32 text
tokens) and the recommended better weights for the default architecture
(``ViT-B-32``/``laion2b_s34b_b79k``, plain GELU), deterministic random weights are planted where
the tag is looked up (tests/support/weights.py). The pipeline and the API then run with nothing but
``IMAGESEARCH_MODEL`` / ``IMAGESEARCH_PRETRAINED`` set, and their vectors are compared with
``open_clip.create_model_and_transforms(model, pretrained=tag)`` + ``encode_image`` /
``encode_text`` run in a separate process (tests/support/reference_openclip.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from support.paths import SUPPORT_DIR
from support.photos import photo_set, write_source_csv
from support.reference import (
    TOLERANCE,
    WARNINGS_ENV,
    embed_image,
    embed_texts,
    index_vectors,
    run_pipeline_cli,
)
from support.servers import serving
from support.weights import plant_tag_weights, random_state_dict

from imagesearch.config import Settings

pytestmark = pytest.mark.slow

MODELS = [
    # model, tag, activation the tag was trained with, query runtime on this CPU
    ("RN50", "openai", "quick_gelu", "onnxruntime fp32"),
    ("PE-Core-T-16-384", "meta", "gelu", "torch fp32"),  # not a causal argmax text tower
    ("ViT-B-32", "laion2b_s34b_b79k", "gelu", "onnxruntime fp32"),
]
QUERIES = [
    "a dog in the rain",
    "a red car at night",
    "two people on a beach",
    "a bowl of fruit on a table",
    "snow-covered mountains at sunset",
    "STOP",
    "a" * 3,
    "a very long description of a crowded city street with many shops, cars, buses, cyclists and "
    "pedestrians under a grey sky just before a thunderstorm, seen from a high window",
]


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("hf-home-models")
    for model, tag, _, _ in MODELS:
        plant_tag_weights(home, model, tag, random_state_dict(model, seed=1))
    return home


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    every = photo_set(tmp_path_factory.mktemp("photos-models"), 240)
    return [path for path in every if path.name[:4].isdigit()] + every[:6]  # all formats and sizes


def reference_vectors(model: str, tag: str, env: dict[str, str], photos: list[Path], folder: Path) -> dict:
    (folder / "files.txt").write_text("\n".join(str(path) for path in photos))
    (folder / "queries.json").write_text(json.dumps(QUERIES))
    result = subprocess.run(
        [sys.executable, str(SUPPORT_DIR / "reference_openclip.py"), model, tag,
         str(folder / "files.txt"), str(folder / "queries.json"), str(folder / "reference.npz")],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with np.load(folder / "reference.npz") as stored:
        return {"images": stored["images"], "texts": stored["texts"]}


@pytest.mark.parametrize(("model", "tag", "activation", "runtime"), MODELS)
def test_model_equals_open_clip_plain_encode(
    model: str, tag: str, activation: str, runtime: str, hf_home: Path, photos: list[Path], tmp_path: Path
) -> None:
    import os

    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    env |= {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"} | WARNINGS_ENV
    expected = reference_vectors(model, tag, env, photos, tmp_path)
    chosen = {"IMAGESEARCH_MODEL": model, "IMAGESEARCH_PRETRAINED": tag}

    source = write_source_csv(tmp_path / "photos_url.csv", photos)
    run_pipeline_cli(source, tmp_path / "data", env | chosen)
    urls, vectors = index_vectors(tmp_path / "data")
    assert urls == [str(path) for path in photos]
    index_difference = float(np.abs(vectors - expected["images"]).max())
    assert index_difference <= TOLERANCE, f"{model}/{tag} index vs open_clip: {index_difference:.2e}"

    settings = Settings(data_dir=tmp_path / "data", model=model, pretrained=tag)
    with serving(settings, tmp_path / "api.log", env, timeout_s=300) as server:
        health = httpx.get(f"{server.url}/health").json()
        texts = embed_texts(server, QUERIES)
        images = np.stack([embed_image(server, path) for path in photos[:5]])
    suffix = ":quickgelu" if activation == "quick_gelu" else ""
    assert (health["encoder"], health["activation"]) == (f"open_clip:{model}:{tag}{suffix}", activation)
    assert health["query_runtime"] == runtime
    text_difference = float(np.abs(texts - expected["texts"]).max())
    assert text_difference <= TOLERANCE, f"{model}/{tag} text vectors vs open_clip: {text_difference:.2e}"
    image_difference = float(np.abs(images - expected["images"][:5]).max())
    assert image_difference <= TOLERANCE, f"{model}/{tag} image vectors vs open_clip: {image_difference:.2e}"

"""Shared fixtures: a deterministic tiny CLIP checkpoint, real image files, a real index, a live API.

The tiny model is a real open_clip CLIP (ViT image tower + transformer text tower) with random
weights registered from tests/data/test-tiny-clip.json; tests marked ``slow`` use the full
ViT-B-32 architecture. Random weights make text -> image content meaningless, so tests only
assert on image -> image behaviour and on structure.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the support package

from support.images import write_images
from support.paths import TINY_CONFIG, TINY_MODEL
from support.servers import TEST_API_KEY, Server, serving
from support.tiny import BuiltIndex, tiny_settings
from support.weights import save_random_checkpoint

from imagesearch.config import Settings
from imagesearch.encoders.factory import load_encoder
from imagesearch.encoders.protocol import Encoder
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = Settings(model=TINY_MODEL, model_config_file=TINY_CONFIG)
    return save_random_checkpoint(base, tmp_path_factory.mktemp("model") / "tiny.pt", seed=0)


@pytest.fixture(scope="session")
def tiny_reference(tiny_checkpoint: Path) -> Any:
    """The tiny checkpoint as a plain open_clip model (the reference the fast paths must equal)."""
    import open_clip

    open_clip.add_model_config(TINY_CONFIG)
    model, _, _ = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=str(tiny_checkpoint))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_encoder(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return load_encoder(tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("unused")))


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    write_images(folder, 24)
    return folder


@pytest.fixture(scope="session")
def built_index(
    tiny_checkpoint: Path, tiny_encoder: Encoder, image_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> BuiltIndex:
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("data"), batch_size=8)
    report = run_pipeline(settings, PipelineOptions(source=image_dir, progress=False), tiny_encoder)
    return BuiltIndex(settings=settings, report=report, source=image_dir)


@pytest.fixture(scope="session")
def api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(built_index.settings, tmp_path_factory.mktemp("logs") / "api.log") as server:
        yield server


@pytest.fixture(scope="session")
def keyed_api(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same index served by an API that requires TEST_API_KEY and shows absolute paths."""
    env = {"IMAGESEARCH_API_KEY": TEST_API_KEY, "IMAGESEARCH_SOURCE_PATHS": "absolute"}
    with serving(built_index.settings, tmp_path_factory.mktemp("logs") / "keyed-api.log", env) as server:
        yield server

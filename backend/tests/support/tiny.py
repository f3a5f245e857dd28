"""The tiny test model: a real open_clip CLIP (ViT image tower + transformer text tower) registered
from tests/data/test-tiny-clip.json, and the settings that point the package at it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from imagesearch.config import Settings
from imagesearch.ingest.pipeline import PipelineReport
from support.paths import TINY_CONFIG, TINY_MODEL


def tiny_settings(checkpoint: Path, data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "model": TINY_MODEL,
        "model_config_file": TINY_CONFIG,
        "pretrained": str(checkpoint),
        "data_dir": data_dir,
        "fetch_retries": 1,
        "fetch_timeout_s": 2.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a subprocess see ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    env.update(
        IMAGESEARCH_MODEL=settings.model,
        IMAGESEARCH_PRETRAINED=settings.pretrained,
        IMAGESEARCH_DATA_DIR=str(settings.data_dir),
        IMAGESEARCH_CHUNK_SIZE=str(settings.chunk_size),
        IMAGESEARCH_BATCH_SIZE=str(settings.batch_size),
    )
    if settings.model_config_file is not None:
        env["IMAGESEARCH_MODEL_CONFIG_FILE"] = str(settings.model_config_file)
    return env


@dataclass
class BuiltIndex:
    settings: Settings
    report: PipelineReport
    source: Path

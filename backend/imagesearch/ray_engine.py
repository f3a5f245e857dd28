"""Distributed embedding on Ray Data (``run_pipeline.py --engine ray``); being written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from imagesearch.config import Settings
from imagesearch.encoder import Encoder

if TYPE_CHECKING:
    from imagesearch.pipeline import Embedded, PipelineOptions, StageTimes


def embed_with_ray(
    settings: Settings, encoder: Encoder, todo: Sequence[str], options: PipelineOptions, stages: StageTimes
) -> Embedded:
    """Fetch/decode and encode ``todo`` as Ray Data stages: (vectors, positions in todo, failures)."""
    raise NotImplementedError("the Ray engine is not written yet")

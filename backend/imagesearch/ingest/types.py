"""What the pipeline, its engines and its callers pass each other: options, stage times, the
report, and the (vectors, positions, failures) an engine returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
import numpy.typing as npt

from imagesearch.index.manifest import Manifest
from imagesearch.index.metadata import MetadataTable
from imagesearch.ingest.metadata import MetadataOptions
from imagesearch.vectors import FloatArray


class Embedded(NamedTuple):
    """What an engine returns for the sources it encoded."""

    vectors: FloatArray  # (n, dim) float32 unit rows
    positions: npt.NDArray[np.int64]  # (n,) position of each vector in the encoded source list
    failures: list[tuple[int, str]]  # (position, "ErrorType: message") of every source without one
    facts: MetadataTable  # n rows: each vector's image (and file) facts (ingest/facts.py)


@dataclass(frozen=True)
class PipelineOptions:
    source: Path
    url_column: str | None = None
    caption_columns: tuple[str, ...] = ()  # empty: detected by name (tables.CAPTION_COLUMN_CANDIDATES)
    limit: int | None = None
    resume: bool = True
    incremental: bool = False  # reuse the existing index's vectors (see incremental.py)
    progress: bool | None = None  # None: a bar only on a terminal
    engine: Literal["local", "ray"] = "local"  # ray: Ray Data stages (imagesearch/ingest/ray/engine.py)
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray started for the run
    metadata: MetadataOptions = field(default_factory=MetadataOptions)  # which CSV columns, which types


@dataclass
class StageTimes:
    read_sources: float = 0.0
    fetch_decode: float = 0.0  # summed over workers
    wait_for_decode: float = 0.0  # encoder idle, waiting on I/O
    encode: float = 0.0
    write: float = 0.0
    ocr: float = 0.0  # summed over OCR workers
    ocr_timeouts: int = 0  # images whose OCR budget ran out (counted as no text)


@dataclass
class PipelineReport:
    total: int
    ok: int
    failed: int
    resumed_chunks: int
    seconds: float
    stages: StageTimes
    manifest: Manifest
    failures: list[tuple[int, str, str]] = field(default_factory=list)
    metadata_problems: int = 0  # CSV cells that did not fit their column's type (metadata_problems.csv)
    ocr_images_with_text: int | None = None  # with --ocr: images in which text was read

    @property
    def images_per_second(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        stage = self.stages
        return (
            f"{self.ok} images indexed, {self.failed} failed (of {self.total}); "
            f"{self.seconds:.1f} s total, {self.images_per_second:.1f} images/s; "
            f"sources {stage.read_sources:.1f} s, fetch+decode {stage.fetch_decode:.1f} "
            f"worker-s, encoder waiting on I/O {stage.wait_for_decode:.1f} s, encode "
            f"{stage.encode:.1f} s, write {stage.write:.1f} s; resumed chunks: {self.resumed_chunks}"
            + (f"; {self.metadata_problems} metadata cells unreadable" if self.metadata_problems else "")
            + self._ocr_summary()
        )

    def _ocr_summary(self) -> str:
        if self.ocr_images_with_text is None:
            return ""
        timeouts = f", {self.stages.ocr_timeouts} over the time budget" if self.stages.ocr_timeouts else ""
        return f"; OCR {self.stages.ocr:.1f} worker-s, text in {self.ocr_images_with_text} images{timeouts}"

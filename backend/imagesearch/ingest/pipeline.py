"""Offline embedding pipeline: sources -> fetch/decode (threads) -> encode batches -> index.

Alignment: a failed image is recorded as a failure and never gets a vector, and the URL list (and
the captions and metadata) are built from the positions of the images that did get one, so
``urls[i]`` always describes vector ``i``. The engines, local (ingest/local_engine.py) and Ray
(ingest/ray/engine.py), checkpoint as they go, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import IndexBuildError, SourceError
from imagesearch.index.factory import MERGED_LISTS_NAME, IndexTuning, build_index, build_two_stage
from imagesearch.index.index_files import map_vectors_file
from imagesearch.index.manifest import Manifest
from imagesearch.index.metadata import MetadataTable
from imagesearch.index.store import save_bundle
from imagesearch.ingest.checkpoints import MERGED_VECTORS_NAME
from imagesearch.ingest.incremental import (
    APPEND_VECTORS_NAME,
    combine_reused,
    load_reusable,
    sources_to_encode,
)
from imagesearch.ingest.local_engine import embed_local
from imagesearch.ingest.ocr_stage import OcrStage
from imagesearch.ingest.outputs import (
    METADATA_PROBLEMS_NAME,
    combine_metadata,
    write_failures,
    write_problems,
)
from imagesearch.ingest.sources import SourceRecords, read_records, source_root
from imagesearch.ingest.types import Embedded, PipelineOptions, PipelineReport, StageTimes
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

# Callers import the options and the report from here, with the function they go with.
__all__ = ["Embedded", "PipelineOptions", "PipelineReport", "StageTimes", "run_pipeline"]


def run_pipeline(settings: Settings, options: PipelineOptions, encoder: Encoder) -> PipelineReport:
    """Build the index for ``options.source`` into ``settings.data_dir``."""
    started = time.perf_counter()
    stages = StageTimes()
    records = read_records(options.source, options.url_column, options.caption_columns, options.metadata)
    records = records.head(options.limit)
    sources = records.urls
    if not sources:
        raise SourceError(f"{options.source} lists no images")
    ocr = OcrStage.load(settings) if settings.ocr else None
    ocr_id = ocr.engine.id if ocr is not None else ""
    reusable = load_reusable(settings, encoder, ocr_id) if options.incremental else None
    todo = sources_to_encode(sources, reusable)
    stages.read_sources = time.perf_counter() - started

    try:
        embedded, resumed = _embed(settings, encoder, todo, options, stages, ocr)
    finally:
        if ocr is not None:
            ocr.close()

    write_started = time.perf_counter()
    embedded, built = combine_reused(settings, sources, reusable, embedded)
    positions, failures = embedded.positions, embedded.failures
    write_failures(settings.failures_path, failures, sources)
    write_problems(settings.data_dir / METADATA_PROBLEMS_NAME, records)
    if len(positions) == 0:
        raise SourceError(f"none of the {len(sources)} images could be read; see {settings.failures_path}")
    try:
        index, tuning = built if built is not None else _build(settings, embedded.vectors)
        manifest = _save(settings, encoder, options, records, _Built(embedded, index, tuning), ocr_id)
    finally:  # written for a two-stage index that was not saved (the commit moves them otherwise)
        for name in (MERGED_VECTORS_NAME, MERGED_LISTS_NAME, APPEND_VECTORS_NAME):
            (settings.vectors_path.parent / name).unlink(missing_ok=True)
    shutil.rmtree(settings.work_dir, ignore_errors=True)
    stages.write = time.perf_counter() - write_started
    return PipelineReport(
        total=len(sources),
        ok=len(positions),
        failed=len(failures),
        resumed_chunks=resumed,
        seconds=time.perf_counter() - started,
        stages=stages,
        manifest=manifest,
        failures=[(pos, sources[pos], err) for pos, err in failures],
        metadata_problems=len(records.problems),
        ocr_images_with_text=_count_true(embedded.facts, "has_text") if ocr_id else None,
    )


def _count_true(table: MetadataTable, name: str) -> int:
    column = table.columns.get(name)
    return 0 if column is None else int((column.values & column.present).sum())


def _embed(
    settings: Settings,
    encoder: Encoder,
    todo: Sequence[str],
    options: PipelineOptions,
    stages: StageTimes,
    ocr: OcrStage | None,
) -> tuple[Embedded, int]:
    """The chosen engine's (vectors, positions, failures) for ``todo``, and the chunks resumed."""
    if options.engine == "ray":
        # Optional extra: the local engine never imports Ray. Its workers load their own OCR.
        from imagesearch.ingest.ray.engine import embed_with_ray

        ocr_id = ocr.engine.id if ocr is not None else ""
        return embed_with_ray(settings, encoder, todo, options, stages, ocr_id), 0
    return embed_local(settings, encoder, todo, options, stages, ocr)


@dataclass(frozen=True)
class _Built:
    """The run's rows (positions, failures, facts) and the index over their vectors."""

    embedded: Embedded
    index: Any
    tuning: IndexTuning


def _save(
    settings: Settings,
    encoder: Encoder,
    options: PipelineOptions,
    records: SourceRecords,
    built: _Built,
    ocr_id: str,
) -> Manifest:
    """Commit the index with its URLs, captions, metadata and manifest."""
    _, positions, failures, facts = built.embedded
    sources = records.urls
    urls = [sources[position] for position in positions]
    index, tuning = built.index, built.tuning
    return save_bundle(
        settings,
        index,
        urls,
        captions=records.captions_at(positions),
        metadata=combine_metadata(records.metadata_at(positions), facts),
        manifest=Manifest(
            encoder_id=encoder.id,
            model="offline-fallback" if encoder.fallback else settings.model,
            pretrained="packaged" if encoder.fallback else _pretrained_label(settings),
            fallback=encoder.fallback,
            encoder_label=encoder.label,
            activation=encoder.activation,
            dim=encoder.dim,
            count=len(urls),
            index_type="",
            source=str(options.source),
            source_root=source_root(options.source, urls),
            failed=len(failures),
            index_factory=tuning.factory,
            search_params=tuning.search_params,
            recall_at_10=tuning.recall_at_10,
            trained_count=tuning.trained_count,
            appended_recall_at_10=tuning.appended_recall_at_10,
            caption_columns=list(records.caption_columns),
            ocr_engine=ocr_id,
        ),
    )


def _build(settings: Settings, vectors: FloatArray) -> tuple[Any, IndexTuning]:
    """The index over ``vectors``: when the engine merged them into the two-stage index's vectors
    file-to-be (ingest/checkpoints.py), by streaming from that file, which the commit then takes;
    else (or when the count that succeeded no longer calls for a two-stage index) in RAM."""
    merged = settings.vectors_path.parent / MERGED_VECTORS_NAME
    if isinstance(vectors, np.memmap) and merged.is_file():
        try:
            return build_two_stage(vectors, settings, map_vectors_file(merged), merged)
        except IndexBuildError:
            logger.info("%d vectors call for a one-stage index: building it in RAM", len(vectors))
    return build_index(np.ascontiguousarray(vectors, dtype=np.float32), settings)


def _pretrained_label(settings: Settings) -> str:
    # A checkpoint's path differs between machines; its name is the useful part.
    value = settings.pretrained
    return Path(value).name if Path(value).expanduser().is_file() else value

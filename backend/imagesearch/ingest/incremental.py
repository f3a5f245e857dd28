"""Incremental indexing: reuse the vectors of sources the existing index already holds.

A rerun over a grown (or shrunk) source list fetches and encodes only the sources the index does
not hold; the others get their stored vectors back with ``reconstruct``. Sources no longer listed
are dropped, and the order follows the new list, so the result is the index a fresh build of the
same list gives (same URLs in the same order, vectors equal up to batching's float noise).
Image facts (size, EXIF, file date) are reused with the vectors; CSV metadata and captions
are never reused: they always come from the current source file, by position, so an
edited caption takes effect and ``captions[i]`` stays with vector ``i``.
Reuse needs the same encoder (the manifest's encoder id) and an index that stores vectors
exactly (flat, HNSW-flat, IVF-flat, two-stage); otherwise everything is encoded again.

A run that only adds sources after those the index holds (none dropped, none moved, as when new
rows are appended to the CSV) keeps a trained index (IVF-flat, two-stage) and appends the new
vectors to it without training (``appended``; index/append.py), unless held-out queries from the
new vectors say the training no longer fits: then the index is built anew.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import IndexLoadError
from imagesearch.index.append import append, can_append
from imagesearch.index.factory import IndexTuning
from imagesearch.index.manifest import Manifest
from imagesearch.index.metadata import MetadataTable, concat_tables
from imagesearch.index.store import load_bundle
from imagesearch.index.stored_vectors import enable_reconstruct, stores_exact_vectors
from imagesearch.ingest.facts import FACT_TYPES, OCR_FACT_TYPES
from imagesearch.ingest.types import Embedded
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reusable:
    """The existing index and, for each source it holds, its vector's row."""

    index: Any
    rows: dict[str, int]
    facts: MetadataTable  # the existing index's image/file facts, by its row
    manifest: Manifest


def load_reusable(settings: Settings, encoder: Encoder, ocr_id: str = "") -> Reusable | None:
    """The existing index in ``settings.data_dir`` if its vectors can be reused, else None.

    With ``ocr_id`` (this run reads text), only an index whose text that engine read is reused;
    without, reused rows lose any OCR text (the new index has none)."""
    if not settings.manifest_path.is_file():
        return None
    try:
        bundle = load_bundle(settings)
    except IndexLoadError as exc:
        logger.warning("incremental: the existing index cannot be read (%s); encoding everything", exc)
        return None
    if bundle.manifest.encoder_id != encoder.id:
        logger.info(
            "incremental: the existing index is from %s; encoding everything", bundle.manifest.encoder_id
        )
        return None
    if ocr_id and bundle.manifest.ocr_engine != ocr_id:
        logger.info("incremental: the existing index has no text read by %s; encoding everything", ocr_id)
        return None
    if not stores_exact_vectors(bundle.index):
        logger.info(
            "incremental: %s stores no exact vectors; encoding everything", type(bundle.index).__name__
        )
        return None
    enable_reconstruct(bundle.index)
    rows: dict[str, int] = {}
    for row, url in enumerate(bundle.urls):
        rows.setdefault(url, row)
    table = bundle.table
    kept = {k: v for k, v in table.columns.items() if FACT_TYPES.get(k) == v.type}
    if not ocr_id:
        kept = {k: v for k, v in kept.items() if k not in OCR_FACT_TYPES}
    facts = MetadataTable(table.rows, kept)
    return Reusable(index=bundle.index, rows=rows, facts=facts, manifest=bundle.manifest)


def sources_to_encode(sources: Sequence[str], reusable: Reusable | None) -> list[str]:
    """The sources that need fetching and encoding (all of them without a reusable index)."""
    if reusable is None:
        return list(sources)
    todo = [source for source in sources if source not in reusable.rows]
    kept = len(sources) - len(todo)
    logger.info(
        "incremental: reusing %d vectors, encoding %d new sources, dropping %d no longer listed",
        kept,
        len(todo),
        len(set(reusable.rows) - set(sources)),
    )
    return todo


def merge_reused(
    sources: Sequence[str],
    reusable: Reusable,
    encoded: Embedded,
) -> Embedded:
    """Combine reused and newly encoded vectors in the order of ``sources``.

    ``encoded`` holds vectors (m, d) float32, their positions and the failures, all positioned
    in the list of sources to encode; the result is positioned in ``sources``.
    """
    vectors, positions, failures, facts = encoded
    new_positions = np.array([i for i, s in enumerate(sources) if s not in reusable.rows], dtype=np.int64)
    kept_positions = np.array([i for i, s in enumerate(sources) if s in reusable.rows], dtype=np.int64)
    kept_rows = [reusable.rows[sources[i]] for i in kept_positions]
    kept_vectors = _reconstruct(reusable.index, kept_rows)
    all_positions = np.concatenate([kept_positions, new_positions[positions]])
    all_vectors = np.concatenate([kept_vectors, vectors.reshape(-1, kept_vectors.shape[1])])
    all_facts = concat_tables([reusable.facts.take(kept_rows), facts])
    order = np.argsort(all_positions, kind="stable")
    failed = [(int(new_positions[position]), error) for position, error in failures]
    return Embedded(all_vectors[order], all_positions[order], failed, all_facts.take(order))


def combine_reused(
    settings: Settings, sources: Sequence[str], reusable: Reusable | None, encoded: Embedded
) -> tuple[Embedded, tuple[Any, IndexTuning] | None]:
    """The run's rows for ``sources`` and, when it was appended to, the index with its tuning:
    without a reusable index, the vectors just encoded; when ``appended`` can, the existing index
    with them appended; else reused and new vectors merged (``merge_reused``) for a build."""
    if reusable is None:
        return encoded, None
    grown = appended(settings, sources, reusable, encoded)
    if grown is not None:
        return grown[0], (grown[1], grown[2])
    return merge_reused(sources, reusable, encoded), None


APPEND_VECTORS_NAME = ".appended-vectors.faiss"  # in the vectors file's folder; the commit moves it


def appended(
    settings: Settings, sources: Sequence[str], reusable: Reusable, encoded: Embedded
) -> tuple[Embedded, Any, IndexTuning] | None:
    """When this run's result is the existing index followed by the vectors just encoded, in that
    order (nothing dropped or moved, something added), and the index is trained: the existing
    index with them appended (index/append.py), its tuning, and the merged rows (positions,
    failures and facts of every row; ``vectors`` empty: they are in the index). None when the
    result is another order, or when the drift check says train again: merge and build."""
    vectors, positions, failures, facts = encoded
    if not len(vectors) or not can_append(reusable.index):
        return None
    new_positions = np.array([i for i, s in enumerate(sources) if s not in reusable.rows], dtype=np.int64)
    kept_positions = np.array([i for i, s in enumerate(sources) if s in reusable.rows], dtype=np.int64)
    kept_rows = [reusable.rows[sources[i]] for i in kept_positions]
    added = new_positions[positions]
    if kept_rows != list(range(reusable.index.ntotal)) or added.min() < kept_positions.max(initial=-1):
        return None
    manifest = reusable.manifest
    target = settings.vectors_path.parent / APPEND_VECTORS_NAME
    result = append(reusable.index, vectors, manifest.search_params, settings.index_target_recall, target)
    if result.index is None:
        return None
    tuning = IndexTuning(
        manifest.index_factory,
        manifest.search_params,
        manifest.recall_at_10,
        trained_count=manifest.trained_count,
        appended_recall_at_10=result.recall_at_10,
    )
    merged = Embedded(
        np.zeros((0, vectors.shape[1]), dtype=np.float32),
        np.concatenate([kept_positions, added]),
        [(int(new_positions[position]), error) for position, error in failures],
        concat_tables([reusable.facts.take(kept_rows), facts]),
    )
    return merged, result.index, tuning


def _reconstruct(index: Any, rows: list[int]) -> FloatArray:
    if not rows:
        return np.zeros((0, index.d), dtype=np.float32)
    vectors: FloatArray = index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
    return vectors.astype(np.float32)

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
    return Reusable(index=bundle.index, rows=rows, facts=facts)


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


def _reconstruct(index: Any, rows: list[int]) -> FloatArray:
    if not rows:
        return np.zeros((0, index.d), dtype=np.float32)
    vectors: FloatArray = index.reconstruct_batch(np.asarray(rows, dtype=np.int64))
    return vectors.astype(np.float32)

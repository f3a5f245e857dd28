"""The FAISS files of a build: writing them for a commit, reading them back checked.

A one-stage index is one file (``INDEX_RELPATH``). A two-stage index (``two_stage.py``) is two:
its first stage there and its full vectors in ``VECTORS_RELPATH``, written in the same commit
and both covered by the manifest's checksums. The vectors file is always memory-mapped (that is
the point of it); the index file is mapped from ``mmap_min_bytes`` up, else read into RAM.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.config import INDEX_RELPATH, VECTORS_RELPATH, Settings
from imagesearch.errors import IndexLoadError
from imagesearch.index import two_stage
from imagesearch.index.manifest import Manifest


def index_writers(settings: Settings, index: Any) -> dict[Path, Callable[[Path], None]]:
    """Target path -> a writer that puts that part of ``index`` into a given (staged) file."""
    parts = two_stage.stages(index)
    if parts is None:
        return {settings.index_path: _writer(index)}
    base, refine = parts
    return {settings.index_path: _writer(base), settings.vectors_path: _writer(refine)}


def _writer(index: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        faiss.write_index(index, str(path))

    return write


def read_index(settings: Settings, manifest: Manifest) -> Any:
    """The index the manifest describes, both stages of a two-stage one, checksums verified."""
    path = settings.index_path
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    if path.stat().st_size >= settings.mmap_min_bytes:
        index = _read_mapped(settings, manifest, INDEX_RELPATH)
    else:
        index = _read_bytes(settings, manifest)
    if not manifest.vectors_file:
        return index
    if manifest.vectors_file != str(VECTORS_RELPATH):
        raise IndexLoadError(f"the manifest names {manifest.vectors_file!r}, not {VECTORS_RELPATH}")
    refine = _read_mapped(settings, manifest, VECTORS_RELPATH)
    try:
        return two_stage.join(index, refine)
    except (ValueError, RuntimeError) as exc:
        raise IndexLoadError(f"{VECTORS_RELPATH} does not belong to {INDEX_RELPATH}: {exc}") from exc


def _read_bytes(settings: Settings, manifest: Manifest) -> Any:
    index_bytes = settings.index_path.read_bytes()
    if settings.verify_checksums:
        verify(manifest, INDEX_RELPATH, hashlib.sha256(index_bytes).hexdigest())
    try:
        return faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexLoadError(f"{settings.index_path} is not a readable FAISS index: {exc}") from exc


def _read_mapped(settings: Settings, manifest: Manifest, relpath: Path) -> Any:
    """Hash by streaming, then let FAISS memory-map the vectors / inverted lists.

    The pages are shared between worker processes and loaded on demand, so a large index
    starts fast. A save replaces the file by rename, so a mapped older file stays intact;
    the inode check catches a save that lands between hashing and mapping.
    """
    path = settings.data_dir / relpath
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    with path.open("rb") as handle:
        hashed_inode = os.fstat(handle.fileno()).st_ino
        if settings.verify_checksums:
            verify(manifest, relpath, hashlib.file_digest(handle, "sha256").hexdigest())
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:
        raise IndexLoadError(f"{path} is not a readable FAISS index: {exc}") from exc
    if path.stat().st_ino != hashed_inode:
        raise IndexLoadError(f"{path} was replaced while it was loading; load again")
    return index


def verify(manifest: Manifest, relpath: Path, actual: str) -> None:
    expected = manifest.checksums.get(str(relpath))
    if expected is None:
        raise IndexLoadError(f"manifest has no checksum for {relpath}")
    if actual != expected:
        raise IndexLoadError(
            f"{relpath} does not match the manifest checksum (tampered, truncated or from "
            "another build); rebuild the index"
        )

"""Index storage: the only module that reads or writes the FAISS index and its metadata files.

Saves are atomic per file (temp file, fsync, rename) and the manifest is renamed last, so an
interrupted build leaves the previous complete set in place. Loads check that the three files
agree (counts, dimension, checksums) before anything is served.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from pydantic import ValidationError

from imagesearch.config import INDEX_RELPATH, URLS_RELPATH, Settings
from imagesearch.encoder import FloatArray
from imagesearch.errors import IndexLoadError
from imagesearch.metadata import Manifest, dumps_urls, loads_urls


@dataclass(frozen=True)
class IndexBundle:
    """A loaded index: ``urls[i]`` describes the vector with FAISS id ``i``."""

    index: Any  # faiss.Index (untyped extension module)
    urls: list[str]
    manifest: Manifest


def build_flat_index(vectors: FloatArray) -> Any:
    """Exact inner-product index over unit vectors (inner product = cosine similarity)."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_type_name(index: Any) -> str:
    return type(index).__name__


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success fsync it and rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb") as handle:
            os.fsync(handle.fileno())
        tmp.replace(target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def save_bundle(settings: Settings, index: Any, urls: list[str], manifest: Manifest) -> Manifest:
    """Write index, URL list and manifest (with checksums) atomically; return the manifest."""
    if index.ntotal != len(urls):
        raise ValueError(f"index has {index.ntotal} vectors but {len(urls)} URLs")
    urls_bytes = dumps_urls(urls)
    index_bytes = faiss.serialize_index(index).tobytes()
    manifest = manifest.model_copy(
        update={
            "count": len(urls),
            "dim": index.d,
            "index_type": index_type_name(index),
            "checksums": {
                str(INDEX_RELPATH): hashlib.sha256(index_bytes).hexdigest(),
                str(URLS_RELPATH): hashlib.sha256(urls_bytes).hexdigest(),
            },
        }
    )
    write_bytes_atomic(settings.urls_path, urls_bytes)
    write_bytes_atomic(settings.index_path, index_bytes)
    write_bytes_atomic(settings.manifest_path, manifest.model_dump_json(indent=2).encode())
    return manifest


def read_manifest(settings: Settings) -> Manifest:
    path = settings.manifest_path
    if not path.is_file():
        raise IndexLoadError(
            f"no index at {settings.data_dir} (missing {path.name}); build one first: "
            "python backend/run_pipeline.py SOURCE --data-dir DIR"
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise IndexLoadError(f"{path} is not a valid manifest: {exc}") from exc


def load_bundle(settings: Settings) -> IndexBundle:
    """Load and cross-check index, URLs and manifest; raise IndexLoadError on any mismatch."""
    manifest = read_manifest(settings)
    for path in (settings.index_path, settings.urls_path):
        if not path.is_file():
            raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    index_bytes = settings.index_path.read_bytes()
    urls_bytes = settings.urls_path.read_bytes()
    if settings.verify_checksums:
        _verify(manifest, INDEX_RELPATH, index_bytes)
        _verify(manifest, URLS_RELPATH, urls_bytes)
    try:
        index = faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexLoadError(f"{settings.index_path} is not a readable FAISS index: {exc}") from exc
    urls = loads_urls(urls_bytes)
    if not (index.ntotal == len(urls) == manifest.count):
        raise IndexLoadError(
            f"index has {index.ntotal} vectors, image_urls.pkl has {len(urls)} entries and the "
            f"manifest says {manifest.count}: the files are out of step; rebuild the index"
        )
    if index.d != manifest.dim:
        raise IndexLoadError(f"index dimension {index.d} != manifest dimension {manifest.dim}")
    return IndexBundle(index=index, urls=urls, manifest=manifest)


def _verify(manifest: Manifest, relpath: Path, data: bytes) -> None:
    expected = manifest.checksums.get(str(relpath))
    actual = hashlib.sha256(data).hexdigest()
    if expected is None:
        raise IndexLoadError(f"manifest has no checksum for {relpath}")
    if actual != expected:
        raise IndexLoadError(
            f"{relpath} does not match the manifest checksum (tampered, truncated or from "
            "another build); rebuild the index"
        )


def _fsync_dir(directory: Path) -> None:
    # Make the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

"""The FAISS files of a build: writing them for a commit, reading them back checked.

A one-stage index is one file (``INDEX_RELPATH``). A two-stage index (``two_stage.py``) is two:
its first stage there and its full vectors in ``VECTORS_RELPATH``, written in the same commit
and both covered by the manifest's checksums. The vectors file is always memory-mapped (that is
the point of it); the index file is mapped from ``mmap_min_bytes`` up, else read into RAM.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from imagesearch.config import INDEX_RELPATH, LISTS_RELPATH, VECTORS_RELPATH, Settings
from imagesearch.errors import IndexLoadError
from imagesearch.index import on_disk, two_stage
from imagesearch.index.manifest import Manifest
from imagesearch.vectors import FloatArray


def index_writers(settings: Settings, index: Any) -> dict[Path, Callable[[Path], None]]:
    """Target path -> a writer that puts that part of ``index`` into a given (staged) file."""
    parts = two_stage.stages(index)
    if parts is None:
        return {settings.index_path: _writer(index)}
    base, refine = parts
    writers = {settings.index_path: _writer(base), settings.vectors_path: _writer(refine)}
    lists = on_disk.lists_of(base)
    if lists is not None:
        writers[settings.index_path] = on_disk.index_writer(base, LISTS_RELPATH.name)
        writers[settings.lists_path] = _copier(Path(lists.filename))
    for kind, target in (("vectors", settings.vectors_path), ("lists", settings.lists_path)):
        own = two_stage.own_file(index, kind)
        if own.path is not None and own.path.is_file():
            writers[target] = _mover(own)
    return writers


def _writer(index: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        faiss.write_index(index, str(path))

    return write


def _copier(source: Path) -> Callable[[Path], None]:
    def copy(path: Path) -> None:
        shutil.copyfile(source, path)

    return copy


def _mover(own: two_stage.OwnFile) -> Callable[[Path], None]:
    """A writer that moves a file the index maps (its vectors, its inverted lists) to the staged
    path: a rename, so no byte is copied (a copy only across file systems). The mapping stays
    valid (it holds the inode); the index no longer names the file as its own, so a later save
    of it copies it instead."""
    source = own.path
    assert source is not None

    def move(path: Path) -> None:
        try:
            source.replace(path)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            shutil.copyfile(source, path)
            source.unlink()
        own.path = None

    return move


def write_vectors_file(path: Path, chunks: Iterable[FloatArray], n: int, dim: int) -> None:
    """Write the second stage of a two-stage index (an IndexFlatIP of ``n`` x ``dim``) from
    ``chunks`` of (rows, dim) float32 vectors in id order, never holding more than one chunk.

    The bytes are exactly what ``faiss.write_index`` writes for that IndexFlatIP (a test checks
    it byte for byte), so ``read_index`` maps it like any saved vectors file; at 10M x 512-d the
    in-RAM IndexFlatIP would be 20 GB, which a small machine cannot hold beside its copy.
    """
    written = 0
    with path.open("wb") as handle:
        handle.write(_flat_header(n, dim))
        for chunk in chunks:
            block = np.ascontiguousarray(chunk, dtype=np.float32)
            if block.ndim != 2 or block.shape[1] != dim or written + len(block) > n:
                raise ValueError(f"a chunk of shape {block.shape} does not continue {written} of {n} x {dim}")
            handle.write(block.data)
            written += len(block)
        if written != n:
            raise ValueError(f"the chunks held {written} vectors, not {n}")
        handle.flush()
        os.fsync(handle.fileno())


def create_vectors_file(path: Path, n: int, dim: int) -> np.memmap[Any, np.dtype[np.float32]]:
    """A new vectors file of ``n`` x ``dim`` (the bytes ``write_vectors_file`` writes), its vectors
    zero and writable through the returned memory map: for rows that arrive in any order (the
    Ray engine's shards). The caller fills every row, flushes, and ``fsync``s the file."""
    header = _flat_header(n, dim)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + n * dim * 4)
    return np.memmap(path, dtype=np.float32, mode="r+", offset=len(header), shape=(n, dim))


def map_vectors_file(path: Path) -> Any:
    """The IndexFlatIP of a file ``write_vectors_file`` wrote, memory-mapped (pages read on demand)."""
    return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)


def vectors_view(path: Path, n: int, dim: int) -> FloatArray:
    """The ``n`` x ``dim`` float32 vectors of a vectors file as a read-only memory map (they are
    the file's last bytes, after FAISS's header)."""
    offset = path.stat().st_size - n * dim * 4
    if offset <= 0:
        raise ValueError(f"{path} is too small for {n} x {dim} float32 vectors")
    return np.memmap(path, dtype=np.float32, mode="r", offset=offset, shape=(n, dim))


def _flat_header(n: int, dim: int) -> bytes:
    """The bytes ``faiss.write_index`` puts before the vectors of an n x dim IndexFlatIP, taken
    from FAISS itself: an empty index claiming ``n`` vectors serialises to that header followed by
    an empty code array's size field (the last 8 bytes), replaced here by the real size in the
    unit this FAISS counts it in (learned from a one-vector index: floats in FAISS 1.15)."""
    one = faiss.IndexFlatIP(dim)
    one.add(np.zeros((1, dim), dtype=np.float32))
    one_bytes = faiss.serialize_index(one).tobytes()
    unit = 4 * dim // int.from_bytes(one_bytes[-4 * dim - 8 : -4 * dim], "little")
    empty = faiss.IndexFlatIP(dim)
    empty.ntotal = n  # header only: serialising writes no codes for an empty code array
    header = faiss.serialize_index(empty).tobytes()[:-8]
    return header + (n * dim * 4 // unit).to_bytes(8, "little")


def read_index(settings: Settings, manifest: Manifest) -> Any:
    """The index the manifest describes, both stages of a two-stage one, checksums verified."""
    path = settings.index_path
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    if manifest.lists_file:
        index = _read_with_lists(settings, manifest)
    elif path.stat().st_size >= settings.mmap_min_bytes:
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


def _read_with_lists(settings: Settings, manifest: Manifest) -> Any:
    """The first stage of a two-stage index whose inverted lists stay on disk: mapped from the
    lists file the manifest lists (checked first, found beside the index file whatever the
    working directory)."""
    if manifest.lists_file != str(LISTS_RELPATH):
        raise IndexLoadError(f"the manifest names {manifest.lists_file!r}, not {LISTS_RELPATH}")
    lists_inode = _hashed_inode(settings, manifest, LISTS_RELPATH)
    index = _read_mapped(settings, manifest, INDEX_RELPATH, on_disk.READ_FLAGS)
    if settings.lists_path.stat().st_ino != lists_inode:
        raise IndexLoadError(f"{settings.lists_path} was replaced while it was loading; load again")
    return index


def _read_bytes(settings: Settings, manifest: Manifest) -> Any:
    index_bytes = settings.index_path.read_bytes()
    if settings.verify_checksums:
        verify(manifest, INDEX_RELPATH, hashlib.sha256(index_bytes).hexdigest())
    try:
        return faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexLoadError(f"{settings.index_path} is not a readable FAISS index: {exc}") from exc


def _read_mapped(
    settings: Settings, manifest: Manifest, relpath: Path, flags: int = faiss.IO_FLAG_MMAP_IFC
) -> Any:
    """Hash by streaming, then let FAISS memory-map the vectors / inverted lists.

    The pages are shared between worker processes and loaded on demand, so a large index
    starts fast. A save replaces the file by rename, so a mapped older file stays intact;
    the inode check catches a save that lands between hashing and mapping.
    """
    path = settings.data_dir / relpath
    hashed_inode = _hashed_inode(settings, manifest, relpath)
    try:
        index = faiss.read_index(str(path), flags)
    except RuntimeError as exc:
        raise IndexLoadError(f"{path} is not a readable FAISS index: {exc}") from exc
    if path.stat().st_ino != hashed_inode:
        raise IndexLoadError(f"{path} was replaced while it was loading; load again")
    return index


def _hashed_inode(settings: Settings, manifest: Manifest, relpath: Path) -> int:
    """Check a file of the build against the manifest's checksum, by streaming; its inode."""
    path = settings.data_dir / relpath
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    with path.open("rb") as handle:
        if settings.verify_checksums:
            verify(manifest, relpath, hashlib.file_digest(handle, "sha256").hexdigest())
        return os.fstat(handle.fileno()).st_ino


def verify(manifest: Manifest, relpath: Path, actual: str) -> None:
    expected = manifest.checksums.get(str(relpath))
    if expected is None:
        raise IndexLoadError(f"manifest has no checksum for {relpath}")
    if actual != expected:
        raise IndexLoadError(
            f"{relpath} does not match the manifest checksum (tampered, truncated or from "
            "another build); rebuild the index"
        )

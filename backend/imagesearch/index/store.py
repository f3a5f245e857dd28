"""Index storage: the only module that reads or writes the FAISS index and its metadata files.

Saving the files (URL list, captions when there are any, index, manifest) is one atomic commit:
each is written to a temp file beside its target and fsynced (the index straight from FAISS to
its file, never as one in-memory copy); then a small journal naming the temp files is written
atomically (the commit point); then the temp files are renamed over the targets and the journal
is removed. A crash before the commit point leaves the previous set untouched (the orphaned temp
files are removed later); a crash after it is rolled forward by ``recover`` on the next load or
save, so readers never see a mix of two builds. Loads check that the files agree (counts,
dimension, checksums) before anything is served; the manifest says whether captions belong to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import faiss
import numpy as np
from pydantic import ValidationError

from imagesearch.config import INDEX_RELPATH, MANIFEST_RELPATH, URLS_RELPATH, Settings
from imagesearch.errors import IndexLoadError, InvalidQueryError
from imagesearch.files import file_sha256, fsync_dir, write_bytes_atomic
from imagesearch.index.factory import apply_search_params
from imagesearch.index.manifest import (
    CAPTIONS_RELPATH,
    Manifest,
    dumps_captions,
    dumps_urls,
    loads_captions,
    loads_urls,
)
from imagesearch.vectors import FloatArray


@dataclass(frozen=True)
class IndexBundle:
    """A loaded index: ``urls[i]`` describes the vector with FAISS id ``i``."""

    index: Any  # faiss.Index (untyped extension module)
    urls: list[str]
    manifest: Manifest
    captions: list[str] | None = None  # ``captions[i]`` describes vector ``i``; None: no captions

    def check_id(self, image_id: int) -> None:
        """InvalidQueryError unless ``image_id`` is a vector of this index."""
        if not 0 <= image_id < len(self.urls):
            raise InvalidQueryError(
                f"no image with id {image_id} (the index has ids 0..{len(self.urls) - 1})"
            )

    def local_path(self, image_id: int) -> Path:
        """The file behind indexed image ``image_id``: InvalidQueryError for an unknown id or for a
        remote (http/https) source, so only indexed local files are ever served."""
        self.check_id(image_id)
        source = self.urls[image_id]
        parsed = urlparse(source)
        if parsed.scheme.lower() in ("http", "https"):
            raise InvalidQueryError(f"image {image_id} is remote: {source}")
        return Path(unquote(parsed.path)) if parsed.scheme.lower() == "file" else Path(source)


def build_flat_index(vectors: FloatArray) -> Any:
    """Exact inner-product index over unit vectors (inner product = cosine similarity)."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_type_name(index: Any) -> str:
    return type(index).__name__


JOURNAL_NAME = ".commit-journal.json"


def save_bundle(
    settings: Settings,
    index: Any,
    urls: list[str],
    manifest: Manifest,
    captions: list[str] | None = None,
) -> Manifest:
    """Write index, URL list, captions (if any) and manifest (with checksums) as one atomic commit.

    The index goes straight from FAISS to its staged file and is hashed from there by streaming,
    so saving needs no second in-memory copy of it. Without captions, a ``captions.json`` left by
    an older build stays but no longer counts: the manifest says the index has none.
    """
    if index.ntotal != len(urls):
        raise ValueError(f"index has {index.ntotal} vectors but {len(urls)} URLs")
    if captions is not None and len(captions) != len(urls):
        raise ValueError(f"{len(captions)} captions for {len(urls)} URLs")
    recover(settings.data_dir)
    blobs = {settings.urls_path: dumps_urls(urls)}
    if captions is not None:
        blobs[settings.data_dir / CAPTIONS_RELPATH] = dumps_captions(captions)
    staged: dict[Path, Path] = {}
    try:
        for target, data in blobs.items():
            staged[target] = stage_file(target, data)
        staged[settings.index_path] = stage_file(settings.index_path, _index_writer(index))
        checksums = {
            str(target.relative_to(settings.data_dir)): file_sha256(tmp) for target, tmp in staged.items()
        }
        manifest = manifest.model_copy(
            update={
                "count": len(urls),
                "dim": index.d,
                "index_type": index_type_name(index),
                "checksums": checksums,
                "has_captions": captions is not None,
                "caption_columns": manifest.caption_columns if captions is not None else [],
            }
        )
        manifest_json = manifest.model_dump_json(indent=2).encode()
        staged[settings.manifest_path] = stage_file(settings.manifest_path, manifest_json)
    except BaseException:
        for tmp in staged.values():  # not committed: the previous set stays as it was
            tmp.unlink(missing_ok=True)
        raise
    journal = {str(target.relative_to(settings.data_dir)): tmp.name for target, tmp in staged.items()}
    write_bytes_atomic(settings.data_dir / JOURNAL_NAME, json.dumps(journal).encode())
    recover(settings.data_dir)
    return manifest


def _index_writer(index: Any) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        faiss.write_index(index, str(path))

    return write


def stage_file(target: Path, data: bytes | Callable[[Path], None]) -> Path:
    """Write ``data`` (bytes, or a writer given the path) to a durable temp file beside ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".staged", dir=target.parent)
    try:
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        else:
            os.close(fd)
            data(Path(name))
        with Path(name).open("rb") as written:
            os.fsync(written.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def recover(data_dir: Path, remove_orphans: bool = True) -> None:
    """Finish a commit whose journal exists; drop temp files of a commit that never happened.

    Readers pass ``remove_orphans=False``: staged files without a journal may belong to a build
    that is still running.
    """
    journal_path = data_dir / JOURNAL_NAME
    if journal_path.is_file():
        try:
            journal: dict[str, str] = json.loads(journal_path.read_bytes())
            for target_name, tmp_name in journal.items():
                target = data_dir / target_name
                staged = target.parent / tmp_name
                if staged.is_file():
                    staged.replace(target)
                    fsync_dir(target.parent)
            journal_path.unlink(missing_ok=True)
        except (OSError, ValueError) as exc:
            raise IndexLoadError(f"cannot finish the interrupted index write in {data_dir}: {exc}") from exc
    if not remove_orphans:
        return
    for relpath in (INDEX_RELPATH, URLS_RELPATH, CAPTIONS_RELPATH, MANIFEST_RELPATH):
        for orphan in (data_dir / relpath).parent.glob(f".{relpath.name}.*.staged"):
            orphan.unlink(missing_ok=True)


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


def bundle_files(settings: Settings) -> list[Path]:
    """Every file of the build in ``settings.data_dir``: those the manifest's checksums list, then
    the manifest itself. Copy exactly these (e.g. into an archive) to move an index elsewhere.

    Files the build did not list (a ``captions.json`` an older build left, the failures CSV, the
    resume state) are not part of it. Raises IndexLoadError when there is no manifest, or a listed
    file is missing or lies outside the data folder.
    """
    recover(settings.data_dir, remove_orphans=False)
    manifest = read_manifest(settings)
    files = []
    for relpath in sorted(manifest.checksums):
        if Path(relpath).is_absolute() or ".." in Path(relpath).parts:
            raise IndexLoadError(f"{settings.manifest_path} lists {relpath!r}, outside {settings.data_dir}")
        path = settings.data_dir / relpath
        if not path.is_file():
            raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
        files.append(path)
    return [*files, settings.manifest_path]


def load_bundle(settings: Settings) -> IndexBundle:
    """Load and cross-check index, URLs and manifest; raise IndexLoadError on any mismatch."""
    recover(settings.data_dir, remove_orphans=False)
    manifest = read_manifest(settings)
    for path in (settings.index_path, settings.urls_path):
        if not path.is_file():
            raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    urls_bytes = settings.urls_path.read_bytes()
    if settings.verify_checksums:
        _verify(manifest, URLS_RELPATH, hashlib.sha256(urls_bytes).hexdigest())
    if settings.index_path.stat().st_size >= settings.mmap_min_bytes:
        index = _read_index_mapped(settings, manifest)
    else:
        index = _read_index_bytes(settings, manifest)
    urls = loads_urls(urls_bytes)
    if not (index.ntotal == len(urls) == manifest.count):
        raise IndexLoadError(
            f"index has {index.ntotal} vectors, image_urls.pkl has {len(urls)} entries and the "
            f"manifest says {manifest.count}: the files are out of step; rebuild the index"
        )
    if index.d != manifest.dim:
        raise IndexLoadError(f"index dimension {index.d} != manifest dimension {manifest.dim}")
    try:
        apply_search_params(index, manifest.search_params)
    except RuntimeError as exc:
        raise IndexLoadError(f"the manifest's search parameters do not fit the index: {exc}") from exc
    captions = _read_captions(settings, manifest) if manifest.has_captions else None
    return IndexBundle(index=index, urls=urls, manifest=manifest, captions=captions)


def _read_captions(settings: Settings, manifest: Manifest) -> list[str]:
    path = settings.data_dir / CAPTIONS_RELPATH
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    data = path.read_bytes()
    if settings.verify_checksums:
        _verify(manifest, CAPTIONS_RELPATH, hashlib.sha256(data).hexdigest())
    captions = loads_captions(data)
    if len(captions) != manifest.count:
        raise IndexLoadError(
            f"captions.json has {len(captions)} entries and the manifest says {manifest.count}: "
            "the files are out of step; rebuild the index"
        )
    return captions


def _read_index_bytes(settings: Settings, manifest: Manifest) -> Any:
    index_bytes = settings.index_path.read_bytes()
    if settings.verify_checksums:
        _verify(manifest, INDEX_RELPATH, hashlib.sha256(index_bytes).hexdigest())
    try:
        return faiss.deserialize_index(np.frombuffer(index_bytes, dtype=np.uint8))
    except RuntimeError as exc:
        raise IndexLoadError(f"{settings.index_path} is not a readable FAISS index: {exc}") from exc


def _read_index_mapped(settings: Settings, manifest: Manifest) -> Any:
    """Hash by streaming, then let FAISS memory-map the vectors / inverted lists.

    The pages are shared between worker processes and loaded on demand, so a large index
    starts fast. A save replaces the file by rename, so a mapped older file stays intact;
    the inode check catches a save that lands between hashing and mapping.
    """
    path = settings.index_path
    with path.open("rb") as handle:
        hashed_inode = os.fstat(handle.fileno()).st_ino
        if settings.verify_checksums:
            _verify(manifest, INDEX_RELPATH, hashlib.file_digest(handle, "sha256").hexdigest())
    try:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
    except RuntimeError as exc:
        raise IndexLoadError(f"{path} is not a readable FAISS index: {exc}") from exc
    if path.stat().st_ino != hashed_inode:
        raise IndexLoadError(f"{path} was replaced while it was loading; load again")
    return index


def _verify(manifest: Manifest, relpath: Path, actual: str) -> None:
    expected = manifest.checksums.get(str(relpath))
    if expected is None:
        raise IndexLoadError(f"manifest has no checksum for {relpath}")
    if actual != expected:
        raise IndexLoadError(
            f"{relpath} does not match the manifest checksum (tampered, truncated or from "
            "another build); rebuild the index"
        )

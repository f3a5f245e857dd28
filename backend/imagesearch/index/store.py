"""Index storage: the only module that reads or writes the FAISS index and the files beside it.

Saving the files (URL list, captions and metadata when there are any, index, manifest) is one
atomic commit (``index/commit.py``), so readers never see a mix of two builds. Loads check that
the files agree (counts, dimension, checksums) before anything is served; the manifest says
whether captions and metadata belong to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import faiss
import numpy as np
from pydantic import ValidationError

from imagesearch.config import (
    INDEX_RELPATH,
    LISTS_RELPATH,
    MANIFEST_RELPATH,
    URLS_RELPATH,
    VECTORS_RELPATH,
    Settings,
)
from imagesearch.errors import IndexLoadError, InvalidQueryError
from imagesearch.index import commit
from imagesearch.index.index_files import index_writers, read_index, verify
from imagesearch.index.manifest import (
    CAPTIONS_RELPATH,
    METADATA_RELPATH,
    Manifest,
    dumps_captions,
    dumps_urls,
    loads_captions,
    loads_urls,
)
from imagesearch.index.metadata import MetadataTable
from imagesearch.index.tuning import apply_search_params
from imagesearch.index.url_list import UrlList
from imagesearch.vectors import FloatArray


@dataclass(frozen=True)
class IndexBundle:
    """A loaded index: ``urls[i]`` describes the vector with FAISS id ``i``."""

    index: Any  # faiss.Index (untyped extension module)
    urls: Sequence[str]  # a packed UrlList once loaded (url_list.py)
    manifest: Manifest
    captions: list[str] | None = None  # ``captions[i]`` describes vector ``i``; None: no captions
    metadata: MetadataTable | None = None  # row ``i`` describes vector ``i``; None: no metadata

    @property
    def table(self) -> MetadataTable:
        """The metadata, or a table without fields when the index has none."""
        return self.metadata if self.metadata is not None else MetadataTable.empty(len(self.urls))

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


BUNDLE_RELPATHS = (
    INDEX_RELPATH,
    VECTORS_RELPATH,
    LISTS_RELPATH,
    URLS_RELPATH,
    CAPTIONS_RELPATH,
    METADATA_RELPATH,
    MANIFEST_RELPATH,
)


def save_bundle(
    settings: Settings,
    index: Any,
    urls: list[str],
    manifest: Manifest,
    captions: list[str] | None = None,
    metadata: MetadataTable | None = None,
) -> Manifest:
    """Write index (both files of a two-stage one), URL list, captions and metadata (if any) and
    manifest (with checksums) as one atomic commit.

    The index goes straight from FAISS to its staged file and is hashed from there by streaming,
    so saving needs no second in-memory copy of it. Without captions (metadata, a vectors file),
    a file an older build left stays but no longer counts: the manifest says the index has none.
    """
    _check_aligned(index, urls, captions, metadata)
    recover(settings.data_dir)
    with commit.StagedCommit(settings.data_dir) as staged:
        staged.stage(settings.urls_path, dumps_urls(urls))
        if captions is not None:
            staged.stage(settings.data_dir / CAPTIONS_RELPATH, dumps_captions(captions))
        if metadata is not None:
            staged.stage(settings.data_dir / METADATA_RELPATH, metadata.to_parquet_bytes())
        writers = index_writers(settings, index)
        for target, writer in writers.items():
            staged.stage(target, writer)
        two_stage = settings.vectors_path in writers
        lists = settings.lists_path in writers
        manifest = manifest.model_copy(
            update={
                "count": len(urls),
                "dim": index.d,
                "index_type": index_type_name(index),
                "checksums": staged.checksums(),
                "has_captions": captions is not None,
                "caption_columns": manifest.caption_columns if captions is not None else [],
                "has_metadata": metadata is not None,
                "metadata_fields": dict(metadata.fields) if metadata is not None else {},
                "vectors_file": str(VECTORS_RELPATH) if two_stage else "",
                "vectors_bytes": staged.size(settings.vectors_path) if two_stage else 0,
                "lists_file": str(LISTS_RELPATH) if lists else "",
                "lists_bytes": staged.size(settings.lists_path) if lists else 0,
            }
        )
        staged.stage(settings.manifest_path, manifest.model_dump_json(indent=2).encode())
        staged.commit()
    return manifest


def _check_aligned(
    index: Any, urls: list[str], captions: list[str] | None, metadata: MetadataTable | None
) -> None:
    if index.ntotal != len(urls):
        raise ValueError(f"index has {index.ntotal} vectors but {len(urls)} URLs")
    if captions is not None and len(captions) != len(urls):
        raise ValueError(f"{len(captions)} captions for {len(urls)} URLs")
    if metadata is not None and metadata.rows != len(urls):
        raise ValueError(f"{metadata.rows} metadata rows for {len(urls)} URLs")


def recover(data_dir: Path, remove_orphans: bool = True) -> None:
    """Finish an interrupted commit; with ``remove_orphans``, drop the files of one never made.

    Readers pass ``remove_orphans=False``: staged files without a journal may belong to a build
    that is still running.
    """
    commit.recover(data_dir, BUNDLE_RELPATHS if remove_orphans else ())


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
    if not settings.urls_path.is_file():
        raise IndexLoadError(f"{settings.urls_path} is missing; rebuild the index with run_pipeline.py")
    urls_bytes = settings.urls_path.read_bytes()
    if settings.verify_checksums:
        verify(manifest, URLS_RELPATH, hashlib.sha256(urls_bytes).hexdigest())
    index = read_index(settings, manifest)
    urls = UrlList(loads_urls(urls_bytes))  # the list of str is freed once packed
    del urls_bytes
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
    metadata = _read_metadata(settings, manifest) if manifest.has_metadata else None
    return IndexBundle(index=index, urls=urls, manifest=manifest, captions=captions, metadata=metadata)


def _read_captions(settings: Settings, manifest: Manifest) -> list[str]:
    captions = loads_captions(_read_listed(settings, manifest, CAPTIONS_RELPATH))
    if len(captions) != manifest.count:
        raise IndexLoadError(
            f"captions.json has {len(captions)} entries and the manifest says {manifest.count}: "
            "the files are out of step; rebuild the index"
        )
    return captions


def _read_metadata(settings: Settings, manifest: Manifest) -> MetadataTable:
    data = _read_listed(settings, manifest, METADATA_RELPATH)
    try:
        metadata = MetadataTable.from_parquet_bytes(data)
    except (ValueError, OSError) as exc:  # pyarrow's errors derive from these
        raise IndexLoadError(f"{METADATA_RELPATH} is not a readable metadata table: {exc}") from exc
    if metadata.rows != manifest.count or metadata.fields != manifest.metadata_fields:
        raise IndexLoadError(
            f"{METADATA_RELPATH} has {metadata.rows} rows and fields {metadata.fields}; the manifest says "
            f"{manifest.count} and {manifest.metadata_fields}: the files are out of step; rebuild the index"
        )
    return metadata


def _read_listed(settings: Settings, manifest: Manifest, relpath: Path) -> bytes:
    """A file of the build, checked against the manifest's checksum."""
    path = settings.data_dir / relpath
    if not path.is_file():
        raise IndexLoadError(f"{path} is missing; rebuild the index with run_pipeline.py")
    data = path.read_bytes()
    if settings.verify_checksums:
        verify(manifest, relpath, hashlib.sha256(data).hexdigest())
    return data

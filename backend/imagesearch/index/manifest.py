"""Metadata formats: the URL list and captions aligned with the vectors, and the manifest beside them."""

from __future__ import annotations

import io
import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from imagesearch.errors import IndexLoadError

MANIFEST_VERSION = 1
# One caption per vector, a JSON list of str (never a pickle); present only when the manifest says so.
CAPTIONS_RELPATH = Path("embeddings") / "captions.json"
# Typed metadata (index/metadata.py), one row per vector, Parquet; present only when the manifest says so.
METADATA_RELPATH = Path("embeddings") / "metadata.parquet"


class Manifest(BaseModel):
    """Facts about one built index; written last, so its presence means the build completed."""

    version: int = MANIFEST_VERSION
    encoder_id: str
    model: str
    pretrained: str
    dim: int
    count: int
    index_type: str
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    source: str = ""
    source_root: str = Field(
        default="",
        description="folder the API shows local sources relative to (index/source_paths.py); empty: "
        "recorded before it was, or no local sources",
    )
    failed: int = 0
    checksums: dict[str, str] = Field(default_factory=dict, description="relative path -> sha256")
    # Which kind of encoder built it (defaults keep manifests written before these fields loading).
    fallback: bool = Field(default=False, description="built by the lower-quality offline fallback")
    encoder_label: str = ""
    activation: str = Field(
        default="",
        description="the CLIP model's activation (quick_gelu / gelu); empty: not recorded (built before "
        "the activation followed the weights, or by the fallback)",
    )
    # How the index was chosen and tuned (defaults keep older manifests loading: exact search).
    index_factory: str = Field(default="", description="FAISS factory string the index was built from")
    search_params: dict[str, int] = Field(
        default_factory=dict, description="efSearch / nprobe / k_factor_rf, set at load"
    )
    recall_at_10: float | None = Field(default=None, description="measured against exact search at build")
    trained_count: int = Field(
        default=0,
        description="vectors the index (IVF centroids, PQ codes) was trained on; count - trained_count were "
        "appended since without training; 0: an index that needs no training (or recorded before)",
    )
    appended_recall_at_10: float | None = Field(
        default=None,
        description="recall@10 that held-out queries from the vectors appended last measured at "
        "search_params (index/append.py); null: nothing appended since the build",
    )
    # A two-stage index (defaults keep older manifests loading: one index file, nothing on disk).
    vectors_file: str = Field(
        default="",
        description="file of the full vectors a two-stage index re-ranks with, memory-mapped; empty: none",
    )
    vectors_bytes: int = Field(default=0, description="size of vectors_file in bytes (on disk, not in RAM)")
    lists_file: str = Field(
        default="",
        description="file of the first stage's inverted lists when they are kept on disk (index/on_disk.py); "
        "empty: in RAM, or in the index file itself",
    )
    lists_bytes: int = Field(default=0, description="size of lists_file in bytes (on disk, not in RAM)")
    # Captions (defaults keep older manifests loading: no captions, whatever files lie beside it).
    has_captions: bool = Field(default=False, description="embeddings/captions.json belongs to this build")
    caption_columns: list[str] = Field(
        default_factory=list, description="source columns the captions came from"
    )
    ocr_engine: str = Field(
        default="", description="OCR engine id whose text the metadata holds; empty: no OCR"
    )
    # Metadata (defaults keep older manifests loading: no metadata fields).
    has_metadata: bool = Field(default=False, description="embeddings/metadata.parquet belongs to this build")
    metadata_fields: dict[str, str] = Field(
        default_factory=dict, description="metadata field -> type (string, number, boolean, datetime, list)"
    )


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Refuses every global lookup: a list of str needs none, code-running payloads all do."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from image_urls.pkl")


def dumps_urls(urls: list[str]) -> bytes:
    """Serialise the URL list as a plain pickle of a list of str (the seed's format)."""
    if not all(isinstance(url, str) for url in urls):
        raise TypeError("image URLs must all be str")
    return pickle.dumps(list(urls), protocol=4)


def loads_urls(data: bytes) -> list[str]:
    """Read ``image_urls.pkl`` safely: only a list of str is accepted."""
    try:
        value = _NoGlobalsUnpickler(io.BytesIO(data)).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        raise IndexLoadError(f"image_urls.pkl is not a plain list of strings: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IndexLoadError("image_urls.pkl must contain a list of str")
    return value


def dumps_captions(captions: list[str]) -> bytes:
    """Serialise the captions as a JSON list of str (UTF-8)."""
    if not all(isinstance(caption, str) for caption in captions):
        raise TypeError("captions must all be str")
    return json.dumps(list(captions), ensure_ascii=False).encode("utf-8")


def loads_captions(data: bytes) -> list[str]:
    """Read ``captions.json``: only a JSON list of str is accepted."""
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise IndexLoadError(f"captions.json is not valid JSON: {exc}") from exc
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise IndexLoadError("captions.json must contain a list of str")
    return value

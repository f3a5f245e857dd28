"""The exported query towers on disk: one cache entry per set of weights, graph format and precision.

An entry is a folder ``<cache_dir>/onnx/<key>/`` holding everything the torch-free query encoder
(onnx_serving.py) needs: the two ONNX graphs, the token and positional embeddings (``.npy``), the
tokenizer's tables and ``entry.json``, the sidecar that names the encoder (its id exactly as
``ClipEncoder`` computes it, label, activation, dimension, input size), the preprocessing, the
deviation from torch measured at export, and the size and SHA-256 of every other file. ``key``
hashes everything that determines those files (tower_export.entry_fields: model and its config,
the weights' content hash, activation, precision, library versions, ``GRAPH_FORMAT``).

Each file is written through ``files.atomic_path`` and the sidecar last, so an entry is either
complete and checked or not an entry: a crash half-way, a truncated or edited file, a sidecar of
another format all read as "missing", and the exporter writes the entry again. Exports hold a
lock on the entry, so concurrent API workers export it once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagesearch.files import file_sha256, write_bytes_atomic

logger = logging.getLogger(__name__)

ENTRY_FORMAT = 1  # bump when the sidecar's fields or the entry's files change
SIDECAR = "entry.json"
TEXT_GRAPH = "text.onnx"
IMAGE_GRAPH = "image.onnx"
TOKEN_EMBEDDING = "token_embedding.npy"
POSITIONAL_EMBEDDING = "positional_embedding.npy"


class EntryMissingError(RuntimeError):
    """No complete, intact cache entry in this folder."""


@dataclass(frozen=True)
class EncoderIdentity:
    """What an encoder reports about itself (``Encoder`` protocol), known before its towers load."""

    encoder_id: str
    label: str
    activation: str
    dim: int
    image_size: int
    precision: str


@dataclass(frozen=True)
class TowerEntry:
    """A complete cache entry, as its sidecar describes it."""

    folder: Path
    encoder_id: str
    label: str
    activation: str
    dim: int
    image_size: int
    precision: str
    preprocess: dict[str, Any]
    tokenizer: dict[str, Any]
    deviation: dict[str, float]  # largest |difference| from torch, per tower, measured at export
    exporter_pid: int

    def path(self, name: str) -> Path:
        return self.folder / name

    @property
    def identity(self) -> EncoderIdentity:
        names = EncoderIdentity.__dataclass_fields__
        return EncoderIdentity(**{name: getattr(self, name) for name in names})


def entry_key(fields: dict[str, str]) -> str:
    """A short content hash of the fields that determine an entry."""
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


def entry_folder(cache_dir: Path, key: str) -> Path:
    return cache_dir / "onnx" / key


def read_entry(folder: Path, verify: bool = True) -> TowerEntry:
    """The entry in ``folder``; with ``verify``, every file's size and SHA-256 are checked too.

    Raises EntryMissingError when it is absent, partial, damaged or of another format.
    """
    try:
        sidecar = json.loads((folder / SIDECAR).read_text())
        if sidecar.get("format") != ENTRY_FORMAT:
            raise EntryMissingError(
                f"{folder} is of entry format {sidecar.get('format')}, not {ENTRY_FORMAT}"
            )
        for name, (size, digest) in sidecar["files"].items():
            path = folder / name
            if path.stat().st_size != size or (verify and file_sha256(path) != digest):
                raise EntryMissingError(f"{path} is not the file the entry was written with")
        fields = {name: sidecar[name] for name in TowerEntry.__dataclass_fields__ if name != "folder"}
        return TowerEntry(folder=folder, **fields)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EntryMissingError(f"no complete entry in {folder}: {exc}") from exc


def write_sidecar(folder: Path, description: dict[str, Any]) -> TowerEntry:
    """Seal an entry: hash every file already in ``folder`` and write the sidecar last."""
    paths = [path for path in sorted(folder.iterdir()) if path.is_file() and not path.name.startswith(".")]
    files = {}
    for path in paths:
        path.chmod(0o644)  # a cache others may read, like open_clip's weights
        if path.name != SIDECAR:
            files[path.name] = (path.stat().st_size, file_sha256(path))
    sidecar = {"format": ENTRY_FORMAT, **description, "files": files}
    write_bytes_atomic(folder / SIDECAR, json.dumps(sidecar, indent=1, sort_keys=True).encode())
    (folder / SIDECAR).chmod(0o644)
    return read_entry(folder, verify=False)


def discard(folder: Path) -> None:
    """Unseal an entry before it is written again (readers then see none rather than a mix)."""
    (folder / SIDECAR).unlink(missing_ok=True)


@contextlib.contextmanager
def entry_lock(folder: Path) -> Iterator[None]:
    """Held while an entry is checked or written: one exporter per entry across processes."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

"""The API's query encoder: CLIP's query towers on ONNX Runtime, without torch in the process.

``ClipEncoder`` holds open_clip's torch model (605 MB of fp32 weights for ViT-B-32) and torch
itself (~800 MB with torchvision and open_clip imported, before any model). A search service
only encodes queries, and the exported ONNX towers already hold the same weights. So the API asks
``load_encoder(settings, purpose="query")`` for ``OnnxQueryEncoder``: the towers, tokenizer and
preprocessing of one cache entry (tower_cache.py), run with onnxruntime, numpy, Pillow and the
``tokenizers`` BPE only. torch's copy of the weights never enters the serving process: a child
process (``python -m imagesearch.encoders.export_child``) does everything that needs torch.
At start-up one child resolves the weights (as ``ClipEncoder`` does) and verifies the cache
entry, or, when there is none yet, reports the encoder's identity; the API checks its index
against that identity, and its warm-up query then has a second child build the model, export
the towers, check them against torch and exit. A damaged entry is exported again the same way.

The encoder's id is the one ``ClipEncoder`` reports for the same settings (the child computes
it with the same code), so the manifest check (search/compatibility.py) accepts the indexes the
pipeline builds with torch and refuses the others.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.clip_tokens import ClipTokenizer
from imagesearch.encoders.onnx_towers import ImageTower, TextTower, available
from imagesearch.encoders.preprocess import ResizeCrop
from imagesearch.encoders.protocol import Encoder
from imagesearch.encoders.tower_cache import EncoderIdentity, TowerEntry, read_entry
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError
from imagesearch.vectors import FloatArray, normalize_rows

logger = logging.getLogger(__name__)

EXPORTER_MODULE = "imagesearch.encoders.export_child"
# What the export child needs to know; the rest of Settings (tokens, limits) stays here.
CHILD_SETTINGS = {
    "model",
    "pretrained",
    "activation",
    "model_config_file",
    "device",
    "hub_probe_timeout_s",
    "cache_dir",
    "query_precision",
}


class QueryTowersUnavailableError(EncoderUnavailableError):
    """The torch-free query towers cannot be had for these settings (export failed or unsupported)."""


class Towers:
    """An entry's tokenizer, preprocessing and two ONNX Runtime sessions, loaded."""

    def __init__(self, entry: TowerEntry) -> None:
        self.entry = entry
        self.tokenizer = ClipTokenizer(entry.folder, entry.tokenizer)
        self.preprocess = ResizeCrop.from_dict(entry.preprocess)
        self.text = TextTower(entry)
        self.image = ImageTower(entry)
        logger.info(
            "encoder %s ready without torch: ONNX Runtime %s towers from %s (max |diff| vs torch: %s)",
            entry.encoder_id,
            entry.precision,
            entry.folder,
            ", ".join(f"{name} {value:.1e}" for name, value in sorted(entry.deviation.items())),
        )


class OnnxQueryEncoder:
    """The ``Encoder`` of one exported cache entry, for queries: no torch, no torch weights.

    Vectors equal ``ClipEncoder``'s within ``onnx_towers.EXACT_TOLERANCE`` (checked at export).
    Text batches of concurrent searches are coalesced on the compute thread, as ``ClipEncoder``
    does. It never builds an index: the pipeline keeps ``ClipEncoder`` (torch fp32).

    The identity is known at once; the towers load at the first query (the API's warm-up, after
    the index has been checked against the identity, so a wrong model is refused before any
    export). ``source`` gives their entry, exporting it if needed. When that fails, ``torch_queries``
    (under ``IMAGESEARCH_QUERY_RUNTIME=auto``) gives the encoder that answers instead, with a
    warning; without one the failure is an EncoderUnavailableError.
    """

    def __init__(
        self,
        identity: EncoderIdentity,
        source: ChildExport | None,
        batch_size: int = 32,
        torch_queries: Callable[[], Encoder] | None = None,
    ) -> None:
        self._thread = compute.shared()
        self._identity = identity
        self._source = source
        self._torch_queries = torch_queries
        self.batch_size = batch_size
        self._towers: Towers | None = None
        self._instead: Encoder | None = None  # torch_queries(), once the towers could not be had

    @classmethod
    def from_entry(cls, entry: TowerEntry, batch_size: int = 32) -> OnnxQueryEncoder:
        """Ready at once: the towers of an entry at hand are loaded now."""
        encoder = cls(entry.identity, None, batch_size)
        encoder._towers = Towers(entry)
        return encoder

    @property
    def id(self) -> str:
        return self._identity.encoder_id

    @property
    def dim(self) -> int:
        return self._identity.dim

    @property
    def fallback(self) -> bool:
        return False

    @property
    def label(self) -> str:
        return self._identity.label

    @property
    def activation(self) -> str:
        return self._identity.activation

    @property
    def image_size(self) -> int:
        return self._identity.image_size

    @property
    def query_runtime(self) -> str:
        if self._instead is not None:
            return self._instead.query_runtime
        return f"onnxruntime {self._identity.precision}"

    def prepare(self, image: Image.Image) -> FloatArray:
        towers = self._loaded()
        return towers.preprocess(image) if towers is not None else self._other().prepare(image)

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        towers = self._loaded()
        if towers is None:
            return self._other().encode_prepared(batch)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self._thread.run(towers.image, np.stack(batch)))

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        if self._loaded() is None:
            return self._other().encode_images(images)
        return self.encode_prepared([self.prepare(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        if self._loaded() is None:
            return self._other().encode_texts(texts)
        return self._thread.run_batched(self._encode_texts, texts, self.batch_size)

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        towers = self._loaded()
        assert towers is not None
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            towers.text(towers.tokenizer(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return normalize_rows(np.concatenate(parts))

    def _other(self) -> Encoder:
        assert self._instead is not None
        return self._instead

    def _loaded(self) -> Towers | None:
        """The towers (loaded on the compute thread, once), or None when torch answers instead."""
        if self._towers is None and self._instead is None:
            self._thread.run(self._load)
        return self._towers

    def _load(self) -> None:
        if self._towers is not None or self._instead is not None:
            return  # loaded by a call queued before this one
        assert self._source is not None  # from_entry loads its towers at once
        try:
            entry = self._source.entry()
            try:
                self._towers = Towers(entry)
            except Exception as exc:  # changed on disk since it was checked: make it again, once
                logger.warning(
                    "the cached query towers in %s do not load (%s): exporting them again", entry.folder, exc
                )
                self._towers = Towers(self._source.rebuild())
        except QueryTowersUnavailableError as exc:
            if self._torch_queries is None:
                raise EncoderUnavailableError(f"the ONNX Runtime query towers cannot be had: {exc}") from exc
            warn_torch_queries(exc)
            self._instead = self._torch_queries()


def warn_torch_queries(problem: Exception) -> None:
    """Said once when ``IMAGESEARCH_QUERY_RUNTIME=auto`` falls back to torch for queries."""
    logger.warning(
        "the torch-free query towers are unavailable (%s): this process loads the torch model for its "
        "queries instead (about twice the memory; IMAGESEARCH_QUERY_RUNTIME=onnxruntime fails instead)",
        problem,
    )


class ChildExport:
    """Where a lazily loaded OnnxQueryEncoder gets its entry: the one the lookup found, else the
    export child's (``rebuild``: exported again, whatever the cache holds)."""

    def __init__(self, settings: Settings, known: TowerEntry | None = None) -> None:
        self._settings = settings
        self._known = known

    def entry(self) -> TowerEntry:
        if self._known is not None:
            return self._known
        return _entry_of(run_child(self._settings, "--export"))

    def rebuild(self) -> TowerEntry:
        return _entry_of(run_child(self._settings, "--rebuild"))


def load_query_encoder(
    settings: Settings, torch_queries: Callable[[], Encoder] | None = None
) -> OnnxQueryEncoder:
    """The torch-free query encoder for ``settings``: its identity now (a child resolves the
    weights and, when the cache entry is intact, names it), its towers at the first query
    (exported by a child if needed; ``torch_queries`` when that fails, see OnnxQueryEncoder).

    Raises WeightsUnavailableError / EncoderUnavailableError as ``ClipEncoder`` would for the
    same settings, and QueryTowersUnavailableError when the towers cannot be had at all here.
    """
    if not available():
        raise QueryTowersUnavailableError("onnxruntime / onnxscript are not installed")
    answer = run_child(settings, "--lookup")
    if answer["status"] == "ok":
        entry = _entry_of(answer)
        return OnnxQueryEncoder(
            entry.identity, ChildExport(settings, entry), settings.batch_size, torch_queries
        )
    identity = EncoderIdentity(**answer["identity"])
    return OnnxQueryEncoder(identity, ChildExport(settings), settings.batch_size, torch_queries)


def run_child(settings: Settings, mode: str) -> dict[str, Any]:
    """Run the export child (``--lookup``, ``--export`` or ``--rebuild``) and read its answer.

    It runs ``python -m imagesearch.encoders.export_child``: torch and the model live and die
    there. Its log goes to this process's stderr; its one-line JSON answer to stdout.
    """
    payload = settings.model_dump_json(include=CHILD_SETTINGS)
    package_root = str(Path(__file__).resolve().parents[2])  # this checkout's imagesearch, in the child too
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    )
    logger.info("query towers: %s in a child process (torch stays out of this one) ...", mode.lstrip("-"))
    command = [sys.executable, "-m", EXPORTER_MODULE, mode]
    done = subprocess.run(command, input=payload, stdout=subprocess.PIPE, env=env, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        answer: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise QueryTowersUnavailableError(
            f"the query tower export process exited with status {done.returncode} and no answer"
        ) from None
    status, message = answer.get("status"), str(answer.get("message", ""))
    if status == "weights":
        raise WeightsUnavailableError(message)
    if status == "config":
        raise EncoderUnavailableError(message)
    if status not in ("ok", "missing"):
        raise QueryTowersUnavailableError(message)
    return answer


def _entry_of(answer: dict[str, Any]) -> TowerEntry:
    if answer["status"] != "ok":
        raise QueryTowersUnavailableError(f"the export child did not make the entry: {answer}")
    return read_entry(Path(answer["entry"]), verify=False)  # the child verified it just now

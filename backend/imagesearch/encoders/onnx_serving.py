"""The API's query encoder: CLIP's query towers on ONNX Runtime, without torch in the process.

``ClipEncoder`` holds open_clip's torch model (605 MB of fp32 weights for ViT-B-32) and torch
itself (~800 MB with torchvision and open_clip imported, before any model). A search service
only encodes queries, and the exported ONNX towers already hold the same weights. So the API asks
``load_encoder(settings, purpose="query")`` for ``OnnxQueryEncoder``: the towers, tokenizer and
preprocessing of one cache entry (tower_cache.py), run with onnxruntime, numpy, Pillow and the
``tokenizers`` BPE only. The entry is made, when missing or damaged, by a child process
(``python -m imagesearch.encoders.tower_export``) that loads the torch model, exports, checks
the towers against torch and exits, so torch's copy of the weights never enters the serving
process; when the entry is already there the child only resolves the weights and verifies it.

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
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.clip_tokens import ClipTokenizer
from imagesearch.encoders.onnx_towers import ImageTower, TextTower, available
from imagesearch.encoders.preprocess import ResizeCrop
from imagesearch.encoders.tower_cache import TowerEntry, read_entry
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError
from imagesearch.vectors import FloatArray, normalize_rows

logger = logging.getLogger(__name__)

EXPORTER_MODULE = "imagesearch.encoders.tower_export"
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


class OnnxQueryEncoder:
    """The ``Encoder`` of one exported cache entry, for queries: no torch, no torch weights.

    Vectors equal ``ClipEncoder``'s within ``onnx_towers.EXACT_TOLERANCE`` (checked at export).
    Text batches of concurrent searches are coalesced on the compute thread, as ``ClipEncoder``
    does. It never builds an index: the pipeline keeps ``ClipEncoder`` (torch fp32).
    """

    def __init__(self, entry: TowerEntry, batch_size: int = 32) -> None:
        self._thread = compute.shared()
        self._entry = entry
        self.batch_size = batch_size
        self._tokenizer = ClipTokenizer(entry.folder, entry.tokenizer)
        self._preprocess = ResizeCrop.from_dict(entry.preprocess)
        self._text = TextTower(entry)
        self._image = ImageTower(entry)
        logger.info(
            "encoder %s ready without torch: ONNX Runtime %s towers from %s (max |diff| vs torch: %s)",
            entry.encoder_id,
            entry.precision,
            entry.folder,
            ", ".join(f"{name} {value:.1e}" for name, value in sorted(entry.deviation.items())),
        )

    @property
    def id(self) -> str:
        return self._entry.encoder_id

    @property
    def dim(self) -> int:
        return self._entry.dim

    @property
    def fallback(self) -> bool:
        return False

    @property
    def label(self) -> str:
        return self._entry.label

    @property
    def activation(self) -> str:
        return self._entry.activation

    @property
    def image_size(self) -> int:
        return self._entry.image_size

    @property
    def query_runtime(self) -> str:
        return f"onnxruntime {self._entry.precision}"

    def prepare(self, image: Image.Image) -> FloatArray:
        return self._preprocess(image)

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self._thread.run(self._image, np.stack(batch)))

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        return self.encode_prepared([self.prepare(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        return self._thread.run_batched(self._encode_texts, texts, self.batch_size)

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._text(self._tokenizer(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        return normalize_rows(np.concatenate(parts))


def load_query_encoder(settings: Settings) -> OnnxQueryEncoder:
    """The torch-free query encoder for ``settings``, its entry exported by a child if needed.

    Raises WeightsUnavailableError / EncoderUnavailableError as ``ClipEncoder`` would for the
    same settings, and QueryTowersUnavailableError when only the towers cannot be had.
    """
    if not available():
        raise QueryTowersUnavailableError("onnxruntime / onnxscript are not installed")
    entry = request_entry(settings)
    try:
        return OnnxQueryEncoder(entry, settings.batch_size)
    except Exception as exc:  # changed on disk since the child checked it: make it again, once
        logger.warning(
            "the cached query towers in %s do not load (%s): exporting them again", entry.folder, exc
        )
        return OnnxQueryEncoder(request_entry(settings, rebuild=True), settings.batch_size)


def request_entry(settings: Settings, rebuild: bool = False) -> TowerEntry:
    """Run the export child for ``settings`` and read the entry it names (torch stays there)."""
    payload = settings.model_dump_json(include=CHILD_SETTINGS)
    package_root = str(Path(__file__).resolve().parents[2])  # this checkout's imagesearch, in the child too
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    )
    command = [sys.executable, "-m", EXPORTER_MODULE, *(["--rebuild"] if rebuild else [])]
    logger.info("resolving the query towers in a child process (torch stays out of this one) ...")
    # The child's log goes to this process's stderr; its one-line JSON answer to stdout.
    done = subprocess.run(command, input=payload, stdout=subprocess.PIPE, env=env, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise QueryTowersUnavailableError(
            f"the query tower export process exited with status {done.returncode} and no answer"
        ) from None
    status, message = answer.get("status"), str(answer.get("message", ""))
    if status == "ok":
        return read_entry(Path(answer["entry"]), verify=False)  # the child verified it just now
    if status == "weights":
        raise WeightsUnavailableError(message)
    if status == "config":
        raise EncoderUnavailableError(message)
    raise QueryTowersUnavailableError(message)

"""Making the query towers' cache entry from the torch model, once, and checking it against torch.

``ensure_entry`` finds the entry for a model's settings (tower_cache.py) or writes it: both
ONNX graphs (onnx_export.py), the token and positional embeddings, the tokenizer's tables
(clip_tokens.py) and the preprocessing (preprocess.py), then checks the torch-free query
encoder built from those files against open_clip on probe inputs: the same token ids, the same
pixels, and towers within ``EXACT_TOLERANCE`` of torch in fp32. Only then is the sidecar
written. ``ClipEncoder`` calls it in-process (it holds the model anyway); for the API, the
export child (export_child.py) does, so torch never enters the serving process.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from imagesearch.config import Settings
from imagesearch.encoders import onnx_export, tower_cache
from imagesearch.encoders.clip_tokens import ClipTokenizer, tokenizer_tables
from imagesearch.encoders.onnx_serving import QueryTowersUnavailableError
from imagesearch.encoders.onnx_towers import EXACT_TOLERANCE, PROBE_TEXTS, ImageTower, TextTower
from imagesearch.encoders.preprocess import ResizeCrop
from imagesearch.encoders.tower_cache import TowerEntry
from imagesearch.errors import WeightsUnavailableError
from imagesearch.files import atomic_path, file_sha256, write_bytes_atomic

if TYPE_CHECKING:
    from imagesearch.encoders.clip import ClipSpec

logger = logging.getLogger(__name__)

# Texts the torch-free tokenizer must encode exactly as open_clip does before an entry is kept:
# curly quotes and entities (ftfy, html), full-width and accented letters, emoji, CJK, special
# tokens typed in, runs of whitespace, and one over the context length.
PROBE_TOKENS = (
    *PROBE_TEXTS,
    "don\u2019t \u201cquote\u201d me &amp; you &lt;b&gt;",
    "\uff26\uff35\uff2c\uff2c width, na\u00efve caf\u00e9, \ufb01ne",
    "\U0001f642 emoji \u4e2d\u6587\u5b57\u7b26 \u30c6\u30b9\u30c8",
    "<end_of_text> <START_OF_TEXT> !!<end_of_text>",
    " tabs\tand\nnew  lines ",
    "",
    "a long query " * 40,
)


@dataclass
class ModelParts:
    """The torch side an entry is made from: open_clip's model, tokenizer and preprocess."""

    model: Any
    tokenizer: Any
    preprocess: Any


def entry_fields(settings: Settings, spec: ClipSpec) -> dict[str, str]:
    """Everything that determines an entry's files (tower_cache.entry_key hashes it)."""
    import open_clip
    import torch

    fields = {
        "model": settings.model,
        "model_config": json.dumps(open_clip.get_model_config(settings.model), sort_keys=True),
        "weights": weights_content_id(settings, spec),
        "activation": spec.activation.name,
        "precision": settings.query_precision,
        "versions": " ".join(
            f"{name} {version(name)}" for name in ("open_clip_torch", "onnx", "onnxscript", "onnxruntime")
        )
        + f" torch {torch.__version__}",
        "format": f"graph {onnx_export.GRAPH_FORMAT} entry {tower_cache.ENTRY_FORMAT}",
    }
    if not spec.local:  # a tag's config also sets preprocessing (mean, std, interpolation)
        fields["tag_config"] = json.dumps(
            open_clip.get_pretrained_cfg(settings.model, spec.weights), sort_keys=True
        )
    return fields


def weights_content_id(settings: Settings, spec: ClipSpec) -> str:
    """A checkpoint file's content id; for a tag, the content hash of the file it resolves to
    (downloaded or hub-cached, as open_clip finds it), so new weights behind a tag are a new entry."""
    if spec.local:
        return spec.weights_id
    import open_clip

    from imagesearch.encoders.weights import hub_access, weights_help

    with hub_access(settings.hub_probe_timeout_s):
        try:
            path = open_clip.download_pretrained(open_clip.get_pretrained_cfg(settings.model, spec.weights))
        except Exception as exc:  # open_clip and huggingface_hub raise many kinds here
            raise WeightsUnavailableError(weights_help(settings, exc)) from exc
    if not path:
        raise WeightsUnavailableError(weights_help(settings, FileNotFoundError(spec.weights)))
    return f"{spec.weights}:sha256-{file_sha256(Path(path))[:16]}"


def ensure_entry(
    settings: Settings, spec: ClipSpec, parts: Callable[[], ModelParts], rebuild: bool = False
) -> TowerEntry:
    """The intact entry for ``settings`` (verified), or a new one made from ``parts()``."""
    folder = tower_cache.entry_folder(settings.cache_dir, tower_cache.entry_key(entry_fields(settings, spec)))
    with tower_cache.entry_lock(folder):
        if not rebuild:
            try:
                entry = tower_cache.read_entry(folder)
                logger.info("query towers cached in %s (exported by pid %d)", folder, entry.exporter_pid)
                return entry
            except tower_cache.EntryMissingError as exc:
                if (folder / tower_cache.SIDECAR).exists():
                    logger.warning("the cached query towers are damaged (%s): exporting them again", exc)
        tower_cache.discard(folder)
        return build_entry(parts(), spec, folder, settings.query_precision)


def build_entry(parts: ModelParts, spec: ClipSpec, folder: Path, precision: str) -> TowerEntry:
    """Export, check against torch, then seal (tower_cache.write_sidecar)."""
    from imagesearch.encoders.fast_paths import TEXT_PATH_TRUNCATED, describe_preprocess, text_path

    model = parts.model
    if text_path(model) != TEXT_PATH_TRUNCATED:
        raise QueryTowersUnavailableError(
            "this model's text tower is not the causal, end-token-pooled kind it supports"
        )
    preprocess = describe_preprocess(parts.preprocess)
    if preprocess is None:
        raise QueryTowersUnavailableError(f"this model's preprocessing is not supported: {parts.preprocess}")
    logger.info("exporting the query towers of %s to %s (pid %d) ...", spec.id, folder, os.getpid())
    tokenizer = write_files(parts, spec.image_size, folder)
    description: dict[str, Any] = {
        "encoder_id": spec.id,
        "label": spec.label,
        "activation": spec.activation.name,
        "dim": spec.dim,
        "image_size": spec.image_size,
        "precision": "fp32",
        "preprocess": preprocess.to_dict(),
        "tokenizer": tokenizer,
        "deviation": {},
        "exporter_pid": os.getpid(),
    }
    description["deviation"] = check_entry(parts, TowerEntry(folder=folder, **description))
    if precision == "int8":
        for name in (tower_cache.TEXT_GRAPH, tower_cache.IMAGE_GRAPH):
            onnx_export.quantize_graph(folder / name)
        description["precision"] = "int8"
        description["deviation"] = check_entry(parts, TowerEntry(folder=folder, **description))
    entry = tower_cache.write_sidecar(folder, description)
    logger.info("query towers exported and checked: %s", entry.deviation)
    return entry


def write_files(parts: ModelParts, image_size: int, folder: Path) -> dict[str, Any]:
    """The entry's files, each written atomically; returns the tokenizer's parameters."""
    model = parts.model
    tokenizer, tables = tokenizer_tables(parts.tokenizer)
    for name, data in tables.items():
        write_bytes_atomic(folder / name, data)
    _save_array(folder / tower_cache.TOKEN_EMBEDDING, model.token_embedding.weight)
    _save_array(folder / tower_cache.POSITIONAL_EMBEDDING, model.positional_embedding)
    onnx_export.write_graph(
        folder / tower_cache.TEXT_GRAPH, lambda path: onnx_export.export_text(model, path)
    )
    shape = (1, 3, image_size, image_size)
    onnx_export.write_graph(
        folder / tower_cache.IMAGE_GRAPH, lambda path: onnx_export.export_image(model, shape, path)
    )
    return tokenizer


def check_entry(parts: ModelParts, entry: TowerEntry) -> dict[str, float]:
    """Largest |difference| of each tower from torch on probe inputs; the tokenizer and the
    preprocessing must equal open_clip's exactly, and fp32 towers be within EXACT_TOLERANCE."""
    import torch

    from imagesearch.encoders.fast_paths import TEXT_PATH_TRUNCATED, encode_text_fast

    tokens = ClipTokenizer(entry.folder, entry.tokenizer)(PROBE_TOKENS)
    expected_tokens = parts.tokenizer(list(PROBE_TOKENS)).numpy()
    if not np.array_equal(tokens, expected_tokens):
        raise QueryTowersUnavailableError("the torch-free tokenizer does not reproduce open_clip's token ids")
    preprocess = ResizeCrop.from_dict(entry.preprocess)
    images = probe_images()
    pixels = np.stack([preprocess(image) for image in images])
    expected_pixels = torch.stack([parts.preprocess(image) for image in images]).numpy()
    if not np.array_equal(pixels, expected_pixels):
        raise QueryTowersUnavailableError(
            "the torch-free preprocessing does not reproduce open_clip's pixels"
        )
    model = parts.model
    with torch.inference_mode():
        text = encode_text_fast(model, torch.from_numpy(tokens), TEXT_PATH_TRUNCATED).float().numpy()
        image = model.encode_image(torch.from_numpy(pixels)).float().numpy()
    deviation = {
        "text": float(np.abs(TextTower(entry)(tokens) - text).max()),
        "image": float(np.abs(ImageTower(entry)(pixels) - image).max()),
    }
    worst = max(deviation.values())
    if entry.precision == "fp32" and not worst <= EXACT_TOLERANCE:
        raise QueryTowersUnavailableError(
            f"the ONNX towers differ from torch by {worst:.2e} (> {EXACT_TOLERANCE:g}) on probe inputs; "
            "set IMAGESEARCH_QUERY_RUNTIME=torch"
        )
    return deviation


def probe_images() -> list[Any]:
    """Deterministic noise images of several sizes and modes (wide, tall, small, grey, alpha)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    shapes = [((240, 320, 3), "RGB"), ((500, 200, 3), "RGB"), ((97, 131), "L"), ((300, 300, 4), "RGBA")]
    return [Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode) for shape, mode in shapes]


def _save_array(path: Path, tensor: Any) -> None:
    with atomic_path(path) as staged, staged.open("wb") as handle:
        np.save(handle, tensor.detach().cpu().float().numpy())

"""CLIP through open_clip: the model built as its weights need (weights.py), batches on the one
compute thread, inference mode, fp16 autocast on CUDA, exact fast paths (fast_paths.py) and the
ONNX Runtime query towers (onnx_towers.py, from the cache entry tower_export.py writes).
torch and open_clip are imported only in this layer.

``resolve_spec`` says what the settings resolve to (weights, activation, device, the encoder id)
without building a model: ``ClipEncoder`` and the torch-free query encoder's export child
(export_child.py) share it, so both report the same id for the same settings.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.device import pick_device
from imagesearch.encoders.fast_paths import TEXT_PATH_TRUNCATED, encode_text_fast, split_preprocess, text_path
from imagesearch.encoders.onnx_serving import OnnxQueryEncoder
from imagesearch.encoders.onnx_towers import QueryRuntime
from imagesearch.encoders.weights import (
    MISMATCH_WARNING,
    Activation,
    hub_access,
    resolve_activation,
    resolve_weights,
    weights_help,
)
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError
from imagesearch.vectors import FloatArray, normalize_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipSpec:
    """What the settings resolve to before any model is built: the weights, the activation they
    need, the device, and the encoder's identity (the id recorded in the manifest)."""

    weights: str  # the value for open_clip's ``pretrained``: a tag or a checkpoint file
    local: bool  # a checkpoint file (its id is its content hash), not a tag
    weights_id: str
    activation: Activation
    device: str
    id: str
    label: str
    dim: int
    image_size: int


def resolve_spec(settings: Settings) -> ClipSpec:
    """The settings' model, weights and identity, checked, without building the model."""
    import open_clip
    import torch

    if settings.model_config_file is not None:
        open_clip.add_model_config(settings.model_config_file)
    if settings.model not in open_clip.list_models():
        raise EncoderUnavailableError(
            f"unknown open_clip model {settings.model!r} (IMAGESEARCH_MODEL); "
            "see open_clip.list_models() for the names"
        )
    device = pick_device(settings.device, torch.cuda.is_available())
    weights, weights_id = resolve_weights(settings)
    local = weights_id.startswith("sha256-")
    activation = resolve_activation(settings, None if local else weights)
    config = open_clip.get_model_config(settings.model)
    size = config["vision_cfg"].get("image_size", 224)
    weights_name = Path(weights).name if local else weights
    return ClipSpec(
        weights=weights,
        local=local,
        weights_id=weights_id,
        activation=activation,
        device=device,
        # The activation is part of the network: an index from the other one is another space.
        id=f"open_clip:{settings.model}:{weights_id}{activation.id_suffix}",
        label=f"CLIP {settings.model} ({weights_name}, {activation.label})",
        dim=int(config["embed_dim"]),
        image_size=int(max(size) if isinstance(size, (list, tuple)) else size),
    )


class ClipEncoder:
    """CLIP through open_clip: batches, inference mode, fp16 autocast on CUDA."""

    def __init__(self, settings: Settings, spec: ClipSpec | None = None) -> None:
        # Every torch call runs on the process's one compute thread (see compute.py).
        self._thread = compute.shared()
        self._thread.run(self._load, settings, spec)

    def _load(self, settings: Settings, spec: ClipSpec | None) -> None:
        import open_clip
        import torch

        self._torch = torch
        self._settings = settings
        self.spec = spec or resolve_spec(settings)
        self.device = self.spec.device
        self.batch_size = settings.batch_size
        model, preprocess = _create_model(
            settings, (self.spec.weights, self.spec.local), self.spec.activation, self.device
        )
        model.eval()
        self.model: Any = model
        self.preprocess: Any = preprocess
        self._split_preprocess = split_preprocess(preprocess)  # torch-free normalisation when exact
        self.tokenizer: Any = open_clip.get_tokenizer(settings.model)
        self._text_path = text_path(model)  # exact shortcut for causal text towers (clip_fast)
        self._query_runtime = QueryRuntime(
            settings.query_runtime,
            settings.query_precision,
            self.device,
            causal=self._text_path == TEXT_PATH_TRUNCATED,
        )
        logger.info("encoder %s ready on %s (dim %d)", self.id, self.device, self.dim)

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def fallback(self) -> bool:
        return False

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def activation(self) -> str:
        return self.spec.activation.name

    @property
    def query_runtime(self) -> str:
        """Where queries are encoded, e.g. "onnxruntime fp32" (decided at the first query)."""
        return self._query_runtime.description

    @property
    def image_size(self) -> int:
        """Side of the model's square input, in pixels (lets decoders skip unneeded detail)."""
        return self.spec.image_size

    def prepare(self, image: Image.Image) -> FloatArray:
        if self._split_preprocess is not None:
            pil_steps, numpy_tail = self._split_preprocess
            return numpy_tail(pil_steps(image))
        tensor = self._thread.run(self.preprocess, image)
        return np.ascontiguousarray(tensor.numpy(), dtype=np.float32)

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        return self._thread.run(self._encode_prepared, batch)

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        queries = self._onnx_queries()
        if queries is not None:
            return queries.encode_texts(texts)
        # Concurrent text queries are encoded as one batch (compute.py): exact per row,
        # since the causal tower's padding after a query's end token changes nothing.
        return self._thread.run_batched(self._encode_texts, texts, self.batch_size)

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        # Query images (the index goes through encode_prepared, always torch fp32).
        queries = self._onnx_queries()
        if queries is not None:
            return queries.encode_images(images)
        return self.encode_prepared([self.prepare(image) for image in images])

    def _onnx_queries(self) -> OnnxQueryEncoder | None:
        """The ONNX Runtime query encoder of this model's cache entry (exported on the first
        query, from this process's model: it holds torch anyway), or None for torch."""
        if self._query_runtime.pending:
            self._thread.run(self._query_runtime.build, self._build_queries)
        queries: OnnxQueryEncoder | None = self._query_runtime.queries
        return queries

    def _build_queries(self) -> OnnxQueryEncoder:
        from imagesearch.encoders.tower_export import ModelParts, ensure_entry

        parts = ModelParts(self.model, self.tokenizer, self.preprocess)
        return OnnxQueryEncoder.from_entry(
            ensure_entry(self._settings, self.spec, lambda: parts), self.batch_size
        )

    def _encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(batch), self.batch_size):
            pixels = self._torch.from_numpy(np.stack(batch[start : start + self.batch_size]))
            with self._inference():
                features = self.model.encode_image(pixels.to(self.device))
            parts.append(features.float().cpu().numpy())
        return normalize_rows(np.concatenate(parts))

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self.tokenizer(list(texts[start : start + self.batch_size]))
            with self._inference():
                features = encode_text_fast(self.model, tokens.to(self.device), self._text_path)
            parts.append(features.float().cpu().numpy())
        return normalize_rows(np.concatenate(parts))

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        torch = self._torch
        with torch.inference_mode():
            if self.device == "cuda":
                with torch.autocast("cuda", dtype=torch.float16):
                    yield
            else:
                yield


def _create_model(
    settings: Settings, weights: tuple[str, bool], activation: Activation, device: str
) -> tuple[Any, Any]:
    """open_clip's model and preprocessing for ``weights`` (value, is a local file), built with
    the activation they need; a mismatch open_clip would only warn about is refused."""
    import open_clip

    value, local = weights
    with contextlib.nullcontext() if local else hub_access(settings.hub_probe_timeout_s):
        try:
            with warnings.catch_warnings():
                # open_clip only warns when the model and the tag's weights disagree: refuse.
                warnings.filterwarnings("error", message=MISMATCH_WARNING, category=UserWarning)
                model, _, preprocess = open_clip.create_model_and_transforms(
                    settings.model, pretrained=value, device=device, **activation.create_kwargs
                )
        except UserWarning as exc:
            raise EncoderUnavailableError(f"{settings.model} does not fit its weights: {exc}") from exc
        except (RuntimeError, AssertionError, KeyError, ValueError, OSError) as exc:
            if local:
                raise EncoderUnavailableError(
                    f"the checkpoint {value} does not fit IMAGESEARCH_MODEL={settings.model}: "
                    f"{exc or type(exc).__name__}; check IMAGESEARCH_PRETRAINED and IMAGESEARCH_MODEL"
                ) from exc
            raise WeightsUnavailableError(weights_help(settings, exc)) from exc
    return model, preprocess

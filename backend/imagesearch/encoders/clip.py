"""CLIP through open_clip: the model built as its weights need (weights.py), batches on the one
compute thread, inference mode, fp16 autocast on CUDA, exact fast paths (fast_paths.py) and the
ONNX Runtime query towers (onnx_towers.py). torch and open_clip are imported only in this layer.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.device import pick_device
from imagesearch.encoders.fast_paths import TEXT_PATH_TRUNCATED, encode_text_fast, split_preprocess, text_path
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


class ClipEncoder:
    """CLIP through open_clip: batches, inference mode, fp16 autocast on CUDA."""

    def __init__(self, settings: Settings) -> None:
        # Every torch call runs on the process's one compute thread (see compute.py).
        self._thread = compute.shared()
        self._thread.run(self._load, settings)

    def _load(self, settings: Settings) -> None:
        import open_clip
        import torch

        self._torch = torch
        if settings.model_config_file is not None:
            open_clip.add_model_config(settings.model_config_file)
        if settings.model not in open_clip.list_models():
            raise EncoderUnavailableError(
                f"unknown open_clip model {settings.model!r} (IMAGESEARCH_MODEL); "
                "see open_clip.list_models() for the names"
            )
        self.device = pick_device(settings.device, torch.cuda.is_available())
        self.batch_size = settings.batch_size
        weights, weights_id = resolve_weights(settings)
        local = weights_id.startswith("sha256-")
        activation = resolve_activation(settings, None if local else weights)
        model, preprocess = _create_model(settings, (weights, local), activation, self.device)
        model.eval()
        self._model: Any = model
        self._preprocess: Any = preprocess
        self._split_preprocess = split_preprocess(preprocess)  # torch-free normalisation when exact
        self._tokenizer: Any = open_clip.get_tokenizer(settings.model)
        self._text_path = text_path(model)  # exact shortcut for causal text towers (clip_fast)
        self._query_runtime = QueryRuntime(
            settings.query_runtime,
            settings.query_precision,
            settings.cache_dir,
            self.device,
            causal=self._text_path == TEXT_PATH_TRUNCATED,
        )
        size = open_clip.get_model_config(settings.model)["vision_cfg"].get("image_size", 224)
        self._image_size = int(max(size) if isinstance(size, (list, tuple)) else size)
        # The activation is part of the network: an index from the other one is another space.
        self._id = f"open_clip:{settings.model}:{weights_id}{activation.id_suffix}"
        self._activation = activation.name
        weights_name = Path(weights).name if local else weights
        self._label = f"CLIP {settings.model} ({weights_name}, {activation.label})"
        self._dim = int(open_clip.get_model_config(settings.model)["embed_dim"])
        logger.info("encoder %s ready on %s (dim %d)", self._id, self.device, self._dim)

    @property
    def id(self) -> str:
        return self._id

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fallback(self) -> bool:
        return False

    @property
    def label(self) -> str:
        return self._label

    @property
    def activation(self) -> str:
        return self._activation

    @property
    def query_runtime(self) -> str:
        """Where queries are encoded, e.g. "onnxruntime fp32" (decided at the first query)."""
        return self._query_runtime.description

    @property
    def image_size(self) -> int:
        """Side of the model's square input, in pixels (lets decoders skip unneeded detail)."""
        return self._image_size

    def prepare(self, image: Image.Image) -> FloatArray:
        if self._split_preprocess is not None:
            pil_steps, numpy_tail = self._split_preprocess
            return numpy_tail(pil_steps(image))
        tensor = self._thread.run(self._preprocess, image)
        return np.ascontiguousarray(tensor.numpy(), dtype=np.float32)

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        return self._thread.run(self._encode_prepared, batch)

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        # Concurrent text queries are encoded as one batch (compute.py): exact per row,
        # since the causal tower's padding after a query's end token changes nothing.
        return self._thread.run_batched(self._encode_texts, texts, self.batch_size)

    def _encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        for start in range(0, len(batch), self.batch_size):
            pixels = self._torch.from_numpy(np.stack(batch[start : start + self.batch_size]))
            with self._inference():
                features = self._model.encode_image(pixels.to(self.device))
            parts.append(features.float().cpu().numpy())
        return normalize_rows(np.concatenate(parts))

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        # Query images (the index goes through encode_prepared, always torch fp32).
        return self._thread.run(self._encode_query_images, [self.prepare(image) for image in images])

    def _encode_query_images(self, batch: Sequence[FloatArray]) -> FloatArray:
        tower = self._query_runtime.image(self._model, self._image_size, self._torch.get_num_threads())
        if tower is None or len(batch) == 0:
            return self._encode_prepared(batch)
        return normalize_rows(tower(np.stack(batch)))

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        tower = self._query_runtime.text(self._model, self._tokenizer, self._torch.get_num_threads())
        parts = []
        for start in range(0, len(texts), self.batch_size):
            tokens = self._tokenizer(list(texts[start : start + self.batch_size]))
            if tower is not None:
                parts.append(tower(tokens.numpy()))
                continue
            with self._inference():
                features = encode_text_fast(self._model, tokens.to(self.device), self._text_path)
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

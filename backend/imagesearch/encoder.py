"""Encoders: torch / open_clip are imported here, in the helpers this module uses (weights.py,
clip_fast.py, onnx_towers.py, onnx_export.py) and in the offline fallback, nowhere else.

An encoder turns texts and images into unit-length float32 vectors of shape (n, dim) in one
shared space. The pipeline, the API and the notebook all go through ``load_encoder``, so the
index and the queries are always embedded by the same code (the seed's "single CLIP
implementation end to end" rule). A second implementation only has to satisfy ``Encoder``.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from imagesearch import torch_thread
from imagesearch.clip_fast import TEXT_PATH_TRUNCATED, encode_text_fast, split_preprocess, text_path
from imagesearch.config import Settings
from imagesearch.errors import EncoderUnavailableError, WeightsUnavailableError
from imagesearch.onnx_towers import QueryRuntime
from imagesearch.weights import (
    MISMATCH_WARNING,
    hub_access,
    resolve_activation,
    resolve_weights,
    weights_help,
)

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


class Encoder(Protocol):
    """What the pipeline and the search service need from a model."""

    @property
    def id(self) -> str:
        """Stable identity of model + weights, recorded in the manifest."""

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""

    @property
    def fallback(self) -> bool:
        """True for the lower-quality offline fallback, False for CLIP."""

    @property
    def label(self) -> str:
        """Short human description of the encoder, shown in /health and the UI."""

    @property
    def activation(self) -> str:
        """The model's activation ("quick_gelu" / "gelu"; "" when that does not apply), in the manifest."""

    @property
    def query_runtime(self) -> str:
        """Where query vectors are computed, e.g. "onnxruntime fp32"; shown in /health."""

    def prepare(self, image: Image.Image) -> FloatArray:
        """Model's own preprocessing of one RGB image (thread-safe; runs in fetch workers)."""

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        """Encode prepared images -> (n, dim) float32, unit length."""

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        """Prepare and encode RGB images -> (n, dim) float32, unit length."""

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        """Encode texts -> (n, dim) float32, unit length."""


def normalize_rows(vectors: FloatArray) -> FloatArray:
    """L2-normalise each row of an (n, d) array; all-zero rows stay zero instead of NaN."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class ClipEncoder:
    """CLIP through open_clip: batches, inference mode, fp16 autocast on CUDA."""

    def __init__(self, settings: Settings) -> None:
        # Every torch call runs on the process's one compute thread (see torch_thread.py).
        self._thread = torch_thread.shared()
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
        self.device = _pick_device(settings.device, torch.cuda.is_available())
        self.batch_size = settings.batch_size
        weights, weights_id = resolve_weights(settings)
        local = weights_id.startswith("sha256-")
        activation = resolve_activation(settings, None if local else weights)
        with contextlib.nullcontext() if local else hub_access(settings.hub_probe_timeout_s):
            try:
                with warnings.catch_warnings():
                    # open_clip only warns when the model and the tag's weights disagree: refuse.
                    warnings.filterwarnings("error", message=MISMATCH_WARNING, category=UserWarning)
                    model, _, preprocess = open_clip.create_model_and_transforms(
                        settings.model, pretrained=weights, device=self.device, **activation.create_kwargs
                    )
            except UserWarning as exc:
                raise EncoderUnavailableError(f"{settings.model} does not fit its weights: {exc}") from exc
            except (RuntimeError, AssertionError, KeyError, ValueError, OSError) as exc:
                if local:
                    raise EncoderUnavailableError(
                        f"the checkpoint {weights} does not fit IMAGESEARCH_MODEL={settings.model}: "
                        f"{exc or type(exc).__name__}; check IMAGESEARCH_PRETRAINED and IMAGESEARCH_MODEL"
                    ) from exc
                raise WeightsUnavailableError(weights_help(settings, exc)) from exc
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
        # Concurrent text queries are encoded as one batch (torch_thread.py): exact per row,
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


def save_random_checkpoint(settings: Settings, path: Path, seed: int = 0) -> Path:
    """Write deterministic random weights for ``settings.model`` (tests, offline benchmarks).

    Same architecture and cost as the real weights; the vectors carry no meaning, so only
    image -> image behaviour (an image finds itself) can be checked with them.
    """
    import open_clip
    import torch

    if settings.model_config_file is not None:
        open_clip.add_model_config(settings.model_config_file)
    torch.manual_seed(seed)
    model = open_clip.create_model(settings.model, pretrained=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_encoder(settings: Settings) -> Encoder:
    """The one factory every entry point uses.

    ``IMAGESEARCH_ENCODER=auto`` (default): CLIP whenever its weights can be had (hub cache,
    download, or a checkpoint file); only when they cannot, the offline fallback, with a warning.
    ``clip`` / ``fallback`` force one. Configuration errors (unknown model, missing checkpoint
    file) never fall back: they are mistakes to fix, not a machine without weights.
    """
    if settings.encoder == "fallback":
        return _load_fallback(settings)
    try:
        return ClipEncoder(settings)
    except WeightsUnavailableError as exc:
        if settings.encoder == "clip":
            raise
        logger.warning(
            "CLIP weights unavailable, so the LOWER-QUALITY offline fallback encoder is used "
            "(set IMAGESEARCH_ENCODER=clip to fail instead): %s",
            str(exc).splitlines()[0],
        )
        try:
            return _load_fallback(settings)
        except EncoderUnavailableError as fallback_exc:
            raise EncoderUnavailableError(
                f"{exc}\nThe offline fallback is not usable either: {fallback_exc}"
            ) from fallback_exc


def _load_fallback(settings: Settings) -> Encoder:
    from imagesearch.fallback_encoder import FallbackEncoder

    return FallbackEncoder(settings)


def _pick_device(requested: str, cuda_available: bool) -> str:
    if requested == "cuda" and not cuda_available:
        raise EncoderUnavailableError("IMAGESEARCH_DEVICE=cuda but no CUDA device is available")
    if requested == "auto":
        return "cuda" if cuda_available else "cpu"
    return requested

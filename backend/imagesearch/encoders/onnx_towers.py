"""CLIP's query towers on ONNX Runtime: the same fp32 weights and graph, a faster CPU runtime.

A text query reads all of the text tower's weights (151 MB for ViT-B-32) to multiply a handful
of token rows, and an image query runs the vision tower on one image. PyTorch's eager kernels do
both at a fraction of the CPU's speed; ONNX Runtime runs the same fp32 arithmetic in ~60 % (text)
and ~75 % (image) of the time (2-core measurements in bench/RESULTS.md). Each tower is exported
once per set of weights (tower_export.py, with ``torch.onnx.export``), checked there against the
torch model on probe inputs (largest difference <= ``EXACT_TOLERANCE``) and cached as one entry
under ``cache_dir/onnx`` (tower_cache.py). This module only runs them: it imports no torch, so the
API's torch-free query encoder (onnx_serving.py) uses it as it is. Only queries use it: the index
is always encoded by torch (``ClipEncoder.encode_prepared``), in fp32.

The text graph starts after the token embedding (the lookup plus positional embedding is done
here in numpy: the same float32 additions torch does) and runs only up to the batch's last
end-of-text token, exactly as ``fast_paths.encode_text_fast`` does. The image graph takes one
preprocessed image at a time.

``precision="int8"`` (opt-in, ``IMAGESEARCH_QUERY_PRECISION``) quantises the weights of the same
graphs dynamically to int8 (onnxruntime.quantization): about twice as fast again, but it changes
rankings (top-10 overlap with fp32 is reported in bench/RESULTS.md), so it is never the default.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from imagesearch.encoders.tower_cache import (
    IMAGE_GRAPH,
    POSITIONAL_EMBEDDING,
    TEXT_GRAPH,
    TOKEN_EMBEDDING,
    TowerEntry,
)
from imagesearch.errors import EncoderUnavailableError
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)

Precision = Literal["fp32", "int8"]

EXACT_TOLERANCE = 1e-4  # largest |difference| from torch allowed for an fp32 graph
PROBE_TEXTS = ("a", "a person riding a bicycle in the rain", "two dogs playing in the snow at night")


def available() -> bool:
    """True when onnxruntime and the exporter's packages are installed (without importing them:
    the pipeline loads the encoder too and never needs them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx", "onnxscript"))


def open_session(path: Path) -> Any:
    """An ONNX Runtime CPU session for one graph.

    Intra-op threads: ONNX Runtime's default (the physical cores, as torch's). No memory arena:
    it keeps the largest batch's activations for good (~320 MB after one batch of 32 long texts
    on ViT-B-32) for ~3 % of a query's time.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class TextTower:
    """``encode_text`` (unnormalised) for a causal open_clip text tower, on ONNX Runtime."""

    def __init__(self, entry: TowerEntry) -> None:
        # Memory-mapped: a query reads a few rows of the 49408 x width table, not 100 MB of it.
        self._embedding = np.load(entry.path(TOKEN_EMBEDDING), mmap_mode="r")
        self._positions = np.load(entry.path(POSITIONAL_EMBEDDING))
        self._session = open_session(entry.path(TEXT_GRAPH))

    def inputs(self, tokens: npt.NDArray[np.int64]) -> dict[str, Any]:
        eot = tokens.argmax(axis=-1)  # the end-of-text token has the highest id (argmax pooling)
        length = int(eot.max()) + 1
        embedded = self._embedding[tokens[:, :length]] + self._positions[:length]
        return {"embedded": embedded.astype(np.float32), "eot": eot}

    def __call__(self, tokens: npt.NDArray[np.int64]) -> FloatArray:
        """(n, context) token ids -> (n, embed_dim) float32 features, not normalised."""
        (features,) = self._session.run(None, self.inputs(tokens))
        return np.asarray(features, dtype=np.float32)


class ImageTower:
    """``encode_image`` (unnormalised) on ONNX Runtime, one preprocessed image per run."""

    def __init__(self, entry: TowerEntry) -> None:
        self._session = open_session(entry.path(IMAGE_GRAPH))

    def __call__(self, pixels: npt.NDArray[np.float32]) -> FloatArray:
        """(n, 3, size, size) preprocessed images -> (n, embed_dim) float32 features, not normalised."""
        rows = [self._session.run(None, {"pixels": pixels[i : i + 1]})[0] for i in range(len(pixels))]
        return np.asarray(np.concatenate(rows), dtype=np.float32)


class QueryRuntime:
    """Where ``ClipEncoder`` computes query vectors (``IMAGESEARCH_QUERY_RUNTIME`` / ``_PRECISION``).

    Settings that cannot work are refused when the encoder loads; the towers are built (the
    cache entry read, or exported and checked) on the first query, so the pipeline, which
    encodes no queries, never pays for it. ``auto`` falls back to torch, with a warning, when a
    build fails; an explicit ``onnxruntime`` or ``int8`` fails instead.
    """

    def __init__(self, runtime: str, precision: Precision, device: str, causal: bool) -> None:
        self.precision: Precision = precision
        self._device = device
        self._required = runtime == "onnxruntime" or precision == "int8"
        problem = None
        if device != "cpu":
            problem = f"the model runs on {device}"
        elif not causal:
            problem = "this model's text tower is not the causal, end-token-pooled kind it supports"
        elif not available():
            problem = "onnxruntime / onnxscript are not installed"
        if self._required and (runtime == "torch" or problem):
            raise EncoderUnavailableError(
                f"IMAGESEARCH_QUERY_RUNTIME={runtime} with IMAGESEARCH_QUERY_PRECISION={precision} cannot "
                f"run: {problem or 'int8 needs IMAGESEARCH_QUERY_RUNTIME=onnxruntime or auto'}"
            )
        self._pending = runtime != "torch" and problem is None
        self.queries: Any = None  # the built query encoder (onnx_serving.OnnxQueryEncoder)

    @property
    def pending(self) -> bool:
        """True until the first query has tried to build the towers."""
        return self._pending

    @property
    def description(self) -> str:
        """E.g. "onnxruntime fp32" once the towers run there, else how torch runs queries."""
        if self.queries is not None:
            return f"onnxruntime {self.precision}"
        return "torch fp16 autocast" if self._device == "cuda" else "torch fp32"

    def build(self, make: Callable[[], Any]) -> None:
        """Build the towers once per process with ``make`` (call on the compute thread)."""
        if not self._pending:
            return
        self._pending = False
        try:
            self.queries = make()
        except Exception as exc:
            if self._required:
                raise EncoderUnavailableError(f"the ONNX Runtime query towers failed: {exc}") from exc
            logger.warning("queries stay on torch (ONNX Runtime unavailable: %s)", exc)

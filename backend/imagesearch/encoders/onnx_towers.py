"""CLIP's query towers on ONNX Runtime: the same fp32 weights and graph, a faster CPU runtime.

A text query reads all of the text tower's weights (151 MB for ViT-B-32) to multiply a handful
of token rows, and an image query runs the vision tower on one image. PyTorch's eager kernels do
both at a fraction of the CPU's speed; ONNX Runtime runs the same fp32 arithmetic in ~60 % (text)
and ~75 % (image) of the time (2-core measurements in bench/RESULTS.md). Each tower is exported
once per set of weights with ``torch.onnx.export`` and cached under ``cache_dir/onnx``; every
load checks the graph against the torch model on probe inputs (largest difference <=
``EXACT_TOLERANCE``) and refuses it otherwise. Only queries use it: the index is always encoded by
torch (``encode_prepared``), in fp32.

The text graph starts after the token embedding (the lookup plus positional embedding is done
here in numpy: the same float32 additions torch does) and runs only up to the batch's last
end-of-text token, exactly as ``clip_fast.encode_text_fast`` does. The image graph takes one
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
from typing import Any

import numpy as np
import numpy.typing as npt

from imagesearch.encoders import onnx_export
from imagesearch.encoders.fast_paths import TEXT_PATH_TRUNCATED, encode_text_fast
from imagesearch.encoders.onnx_export import OnnxUnavailableError, Precision
from imagesearch.errors import EncoderUnavailableError
from imagesearch.vectors import FloatArray

logger = logging.getLogger(__name__)


EXACT_TOLERANCE = 1e-4  # largest |difference| from torch allowed for an fp32 graph
PROBE_TEXTS = ("a", "a person riding a bicycle in the rain", "two dogs playing in the snow at night")


def available() -> bool:
    """True when onnxruntime and the exporter's packages are installed (without importing them:
    the pipeline loads the encoder too and never needs them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx", "onnxscript"))


class OnnxGraph:
    """One exported tower on an ONNX Runtime session, checked against torch when it loads."""

    def __init__(
        self,
        name: str,
        key: str,
        export: Callable[[Path], None],
        probe: tuple[dict[str, Any], Callable[[], Any]],
        precision: Precision,
        settings: tuple[Path, int],
    ) -> None:
        import onnxruntime as ort
        import torch

        cache_dir, threads = settings
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        stem = f"{name}-{key}"

        def session() -> Any:
            path = onnx_export.cached_graph(cache_dir / "onnx", stem, export, precision)
            return path, ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        try:
            path, self._session = session()
        except OnnxUnavailableError:
            raise
        except Exception as exc:  # a damaged cache file: make it again, once
            logger.warning("cached ONNX %s tower is unreadable (%s): exporting it again", name, exc)
            for stale in (cache_dir / "onnx").glob(f"{stem}*.onnx"):
                stale.unlink(missing_ok=True)
            path, self._session = session()
        inputs, reference = probe
        with torch.inference_mode():
            expected = _numpy(reference())
        self.deviation = float(np.abs(self.run(inputs) - expected).max())
        if precision == "fp32" and not self.deviation <= EXACT_TOLERANCE:
            raise OnnxUnavailableError(
                f"the ONNX {name} tower differs from torch by {self.deviation:.2e} (> {EXACT_TOLERANCE:g}) "
                f"on probe inputs; delete {path} or set IMAGESEARCH_QUERY_RUNTIME=torch"
            )
        logger.info(
            "%s tower on ONNX Runtime (%s, max |diff| vs torch %.1e): %s",
            name,
            precision,
            self.deviation,
            path,
        )

    def run(self, inputs: dict[str, Any]) -> FloatArray:
        (features,) = self._session.run(None, inputs)
        return np.asarray(features, dtype=np.float32)


class TextTower:
    """``encode_text`` (unnormalised) for a causal open_clip text tower, on ONNX Runtime."""

    def __init__(self, model: Any, tokenizer: Any, precision: Precision, settings: tuple[Path, int]) -> None:
        self._embedding = model.token_embedding.weight.detach().cpu().numpy()
        self._positions = model.positional_embedding.detach().cpu().numpy()
        probe = tokenizer(list(PROBE_TEXTS))
        self.graph = OnnxGraph(
            "text",
            onnx_export.graph_key(_text_tensors(model), [model.transformer, model.ln_final]),
            lambda path: onnx_export.export_text(model, path),
            (self.inputs(probe.numpy()), lambda: encode_text_fast(model, probe, TEXT_PATH_TRUNCATED)),
            precision,
            settings,
        )

    def inputs(self, tokens: npt.NDArray[np.int64]) -> dict[str, Any]:
        eot = tokens.argmax(axis=-1)  # the end-of-text token has the highest id (argmax pooling)
        length = int(eot.max()) + 1
        embedded = self._embedding[tokens[:, :length]] + self._positions[:length]
        return {"embedded": embedded.astype(np.float32), "eot": eot}

    def __call__(self, tokens: npt.NDArray[np.int64]) -> FloatArray:
        """(n, context) token ids -> (n, embed_dim) float32 features, not normalised."""
        return self.graph.run(self.inputs(tokens))


class ImageTower:
    """``encode_image`` (unnormalised) on ONNX Runtime, one preprocessed image per run."""

    def __init__(self, model: Any, image_size: int, precision: Precision, settings: tuple[Path, int]) -> None:
        import torch

        shape = (1, 3, image_size, image_size)
        pixels = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        self.graph = OnnxGraph(
            "image",
            onnx_export.graph_key(model.visual.state_dict(), [model.visual]),
            lambda path: onnx_export.export_image(model, shape, path),
            ({"pixels": pixels}, lambda: model.encode_image(torch.from_numpy(pixels))),
            precision,
            settings,
        )

    def __call__(self, pixels: npt.NDArray[np.float32]) -> FloatArray:
        """(n, 3, size, size) preprocessed images -> (n, embed_dim) float32 features, not normalised."""
        return np.concatenate([self.graph.run({"pixels": pixels[i : i + 1]}) for i in range(len(pixels))])


class QueryRuntime:
    """Where query vectors are computed (``IMAGESEARCH_QUERY_RUNTIME`` / ``_PRECISION``).

    Settings that cannot work are refused when the encoder loads; each tower is built (exported,
    or read from the cache, then checked) on its first query, so the pipeline, which encodes no
    queries, never pays for it. ``auto`` falls back to torch, with a warning, when a build fails;
    an explicit ``onnxruntime`` or ``int8`` fails instead.
    """

    def __init__(
        self, runtime: str, precision: Precision, cache_dir: Path, device: str, causal: bool
    ) -> None:
        self.precision: Precision = precision
        self._cache_dir = cache_dir
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
        self._wanted = {"text": runtime != "torch" and problem is None}
        self._wanted["image"] = self._wanted["text"]
        self._towers: dict[str, Any] = {}

    @property
    def description(self) -> str:
        """E.g. "onnxruntime fp32" once a query tower runs there, else how torch runs them."""
        if self._towers:
            return f"onnxruntime {self.precision}"
        return "torch fp16 autocast" if self._device == "cuda" else "torch fp32"

    def text(self, model: Any, tokenizer: Any, threads: int) -> TextTower | None:
        """The ONNX text tower, or None for torch (call on the compute thread)."""
        tower: TextTower | None = self._tower(
            "text", lambda settings: TextTower(model, tokenizer, self.precision, settings), threads
        )
        return tower

    def image(self, model: Any, image_size: int, threads: int) -> ImageTower | None:
        """The ONNX image tower, or None for torch (call on the compute thread)."""
        tower: ImageTower | None = self._tower(
            "image", lambda settings: ImageTower(model, image_size, self.precision, settings), threads
        )
        return tower

    def _tower(self, kind: str, build: Callable[[tuple[Path, int]], Any], threads: int) -> Any:
        if kind not in self._towers and self._wanted[kind]:
            self._wanted[kind] = False  # one attempt per process
            try:
                self._towers[kind] = build((self._cache_dir, threads))
            except Exception as exc:
                if self._required:
                    raise EncoderUnavailableError(f"the ONNX Runtime {kind} tower failed: {exc}") from exc
                logger.warning("%s queries stay on torch (ONNX Runtime unavailable: %s)", kind, exc)
        return self._towers.get(kind)


def _numpy(tensor: Any) -> FloatArray:
    return np.asarray(tensor.detach().float().cpu().numpy(), dtype=np.float32)


def _text_tensors(model: Any) -> dict[str, Any]:
    """Every tensor the exported text graph contains (its cache key is their hash)."""
    import torch

    tensors: dict[str, Any] = {}
    for prefix in ("transformer", "ln_final"):
        tensors.update({f"{prefix}.{k}": v for k, v in getattr(model, prefix).state_dict().items()})
    projection = model.text_projection
    if projection is not None:
        tensors["text_projection"] = (
            projection.weight if isinstance(projection, torch.nn.Linear) else projection
        )
    tensors["attn_mask"] = model.attn_mask
    return tensors

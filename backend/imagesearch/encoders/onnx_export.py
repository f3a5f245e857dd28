"""Exporting CLIP's query towers to ONNX graphs (the torch side of the query towers).

``torch.onnx.export`` (the dynamo exporter, which needs onnx + onnxscript) writes each graph
through a staged file, so a crash never leaves half a graph under the final name; the int8
variant is quantised from the fp32 file. tower_export.py calls these to make a cache entry
(tower_cache.py) and checks the result; onnx_towers.py runs them.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from imagesearch.files import atomic_path

logger = logging.getLogger(__name__)

GRAPH_FORMAT = 1  # bump when an exported graph's inputs, outputs or layout change


class OnnxUnavailableError(RuntimeError):
    """An ONNX tower cannot be built or written."""


def write_graph(path: Path, export: Callable[[Path], None]) -> None:
    """Write a graph to ``path`` durably (files.atomic_path), so readers never see half a graph."""
    try:
        with atomic_path(path) as staged:
            export(staged)
            staged.chmod(0o644)  # a cache others may read, like open_clip's weights
    except Exception as exc:
        raise OnnxUnavailableError(f"could not write the ONNX graph {path}: {exc}") from exc


def quantize_graph(path: Path) -> None:
    """Replace the fp32 graph at ``path`` by its dynamically int8-quantised weights.

    One scale per weight tensor. Per-channel scales kept a little more of fp32's top-10 (mean
    overlap 0.941 against 0.925 over HTTP) but cost ~1 ms of the ~9 ms an int8 text query takes.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    write_graph(path, lambda staged: quantize_dynamic(path, staged, weight_type=QuantType.QInt8))


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter logs every graph rewrite at INFO and warns about internals; keep errors only."""
    loggers = [logging.getLogger(name) for name in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)


def _export(
    label: str, module: Any, example: tuple[Any, ...], names: list[str], dynamic: Any, path: Path
) -> None:
    import torch

    logger.info("exporting the %s tower to ONNX (once per set of weights; ~10-20 s for ViT-B-32) ...", label)
    with _quiet_exporter(), torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            module.eval(),
            example,
            input_names=names,
            output_names=["features"],
            dynamic_shapes=dynamic,
            dynamo=True,
            optimize=True,
            verbose=False,
        )
    if program is None:
        raise OnnxUnavailableError("torch.onnx.export returned no program")
    program.save(str(path))


def export_text(model: Any, path: Path) -> None:
    import torch

    from imagesearch.encoders.fast_paths import text_features

    class TextTowerGraph(torch.nn.Module):
        """Token embeddings (n, length, width) + end-of-text positions (n,) -> features (n, dim)."""

        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, embedded: torch.Tensor, eot: torch.Tensor) -> torch.Tensor:
            return text_features(self.clip, embedded, eot)

    width = model.token_embedding.weight.shape[1]
    context = model.positional_embedding.shape[0]
    batch = torch.export.Dim("batch", min=1, max=65536)
    length = torch.export.Dim("length", min=2, max=context)
    example = (torch.zeros(2, 3, width), torch.tensor([2, 1]))
    _export("text", TextTowerGraph(), example, ["embedded", "eot"], ({0: batch, 1: length}, {0: batch}), path)


def export_image(model: Any, shape: tuple[int, ...], path: Path) -> None:
    import torch

    class ImageTowerGraph(torch.nn.Module):
        """One preprocessed image (1, 3, size, size) -> features (1, dim)."""

        def __init__(self) -> None:
            super().__init__()
            self.clip = model

        def forward(self, pixels: torch.Tensor) -> torch.Tensor:
            return self.clip.encode_image(pixels)  # type: ignore[no-any-return]

    _export("image", ImageTowerGraph(), (torch.zeros(shape),), ["pixels"], None, path)

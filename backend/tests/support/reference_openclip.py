"""open_clip's own plain path, run as a user of open_clip would: the reference for other models.

    python reference_openclip.py MODEL TAG FILES.txt QUERIES.json OUT.npz

Loads ``open_clip.create_model_and_transforms`` with the pretrained tag (weights from the
Hugging Face cache the caller planted; ``HF_HOME`` / ``HF_HUB_OFFLINE`` set by the caller), using
open_clip's documented ``-quickgelu`` model name where the tag was trained with QuickGELU, with
every warning an error; then the tag's own preprocessing on ``PIL.Image.open`` of each file,
``encode_image`` / ``tokenizer`` + ``encode_text``, and L2 normalisation. Runs in its own process
so huggingface_hub reads the caller's environment, and nothing of imagesearch is imported.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np


def main(model_name: str, tag: str, files: Path, queries: Path, out: Path) -> None:
    warnings.simplefilter("error")
    import open_clip
    import torch
    from PIL import Image

    if open_clip.get_pretrained_cfg(model_name, tag).get("quick_gelu"):
        model_name = f"{model_name}-quickgelu"
    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=tag)
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    paths = files.read_text().splitlines()
    texts = json.loads(queries.read_text())
    with torch.no_grad():
        # Palette images made RGB first: open_clip, like OpenAI, resizes before it converts,
        # which would resize palette indices; imagesearch decodes every image to RGB first.
        opened = [Image.open(path) for path in paths]
        rgb = [image.convert("RGB") if image.mode == "P" else image for image in opened]
        pixels = torch.stack([preprocess(image) for image in rgb])
        images = model.encode_image(pixels)
        text = model.encode_text(tokenizer(texts))
    np.savez(
        out,
        images=torch.nn.functional.normalize(images, dim=-1).numpy(),
        texts=torch.nn.functional.normalize(text, dim=-1).numpy(),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5]))

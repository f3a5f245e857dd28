"""open_clip's CLIP tokenizer without torch, for the torch-free query encoder (onnx_serving.py).

open_clip's ``SimpleTokenizer`` lives in a module that imports torch (~550 MB of the API's
memory before any model exists). What it does is: clean the text (ftfy, HTML entities,
whitespace, lower case), split it with one regular expression, map each piece's UTF-8 bytes to
printable characters and run byte-pair encoding over them with its merge table, then frame the
ids with start/end tokens in a fixed context, truncating with the end token kept last.

Here the BPE runs in Hugging Face ``tokenizers`` (its ``BPE`` model over the same vocabulary and
merge ranks, with CLIP's ``</w>`` end-of-word suffix), and the rest calls the same libraries
(ftfy, html, regex) the same way. Every table comes from open_clip's tokenizer object itself:
``tokenizer_tables`` gives its vocabulary, merges, byte table, pattern and special tokens when the
query towers are exported, and the export checks this tokenizer against open_clip's on probe
texts (tower_export.py) before the entry is written.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

VOCAB_FILE = "vocab.json"
MERGES_FILE = "merges.txt"
EOW = "</w>"  # CLIP's end-of-word suffix on the last symbol of every word


class TokenizerUnsupportedError(ValueError):
    """The model's tokenizer is not open_clip's plain CLIP SimpleTokenizer."""


def tokenizer_tables(tokenizer: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """An open_clip ``SimpleTokenizer``'s parameters, and its files (vocabulary, merges) by name.

    Refuses other tokenizers (Hugging Face ones, SigLIP's, reduction masks, other cleaning).
    """
    clean = getattr(getattr(tokenizer, "clean_fn", None), "__name__", "")
    if type(tokenizer).__name__ != "SimpleTokenizer" or clean != "_clean_lower" or tokenizer.reduction_fn:
        raise TokenizerUnsupportedError(f"{type(tokenizer).__name__} (clean {clean or '?'}) is not supported")
    merges = sorted(tokenizer.bpe_ranks.items(), key=lambda item: item[1])
    lines = ["#version: 0.2"] + [f"{first} {second}" for (first, second), _ in merges]
    files = {
        VOCAB_FILE: json.dumps(tokenizer.encoder, ensure_ascii=False).encode(),
        MERGES_FILE: ("\n".join(lines) + "\n").encode(),
    }
    specials = [tokenizer.decoder[token_id] for token_id in tokenizer.all_special_ids]
    params = {
        "pattern": tokenizer.pat.pattern,
        "flags": int(tokenizer.pat.flags),
        "bytes": [tokenizer.byte_encoder[byte] for byte in range(256)],
        "specials": {token: tokenizer.encoder[token] for token in specials},
        "sot": int(tokenizer.sot_token_id),
        "eot": int(tokenizer.eot_token_id),
        "context_length": int(tokenizer.context_length),
    }
    return params, files


class ClipTokenizer:
    """Texts -> (n, context_length) int64 token ids, as open_clip's ``SimpleTokenizer(texts)``."""

    def __init__(self, folder: Path, params: dict[str, Any]) -> None:
        import regex
        from tokenizers.models import BPE

        self._bpe = BPE.from_file(str(folder / VOCAB_FILE), str(folder / MERGES_FILE), end_of_word_suffix=EOW)
        self._pattern = regex.compile(params["pattern"], params["flags"])
        self._bytes: list[str] = list(params["bytes"])
        self._specials: dict[str, int] = dict(params["specials"])
        self._sot, self._eot = int(params["sot"]), int(params["eot"])
        self.context_length = int(params["context_length"])

    def encode(self, text: str) -> list[int]:
        """One text -> its BPE ids, without start/end tokens (open_clip's ``encode``)."""
        ids: list[int] = []
        for word in self._pattern.findall(_clean_lower(text)):
            if word in self._specials:  # open_clip's BPE cache maps them to themselves
                ids.append(self._specials[word])
                continue
            symbols = "".join(self._bytes[byte] for byte in word.encode("utf-8"))
            ids.extend(token.id for token in self._bpe.tokenize(symbols))
        return ids

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.int64]:
        tokens = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self._sot, *self.encode(text), self._eot]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length]
                ids[-1] = self._eot  # truncated: the end token stays last
            tokens[row, : len(ids)] = ids
        return tokens


def _clean_lower(text: str) -> str:
    """open_clip's ``_clean_lower``: ftfy, HTML entities (twice), whitespace runs, lower case."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).strip().lower()

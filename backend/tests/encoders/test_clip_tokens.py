"""The torch-free CLIP tokenizer gives open_clip's token ids, text for text."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import open_clip
import pytest

from imagesearch.encoders.clip_tokens import ClipTokenizer, TokenizerUnsupportedError, tokenizer_tables

# Letters, digits, punctuation, whitespace of several kinds, curly quotes, entities' characters,
# accented, full-width, ligature, CJK and emoji characters.
ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz ABCXYZ 0123456789 .,!?'\"#&;<>_-/ \t\n\u00a0\u3000 "
    "\u2019\u201c\u201d \u00e9\u00ef \uff21\uff22 \ufb01 \u4e2d\u6587 \U0001f642"
)
EDGE_CASES = [
    "",
    "   ",
    "a photo of a dog",
    "don\u2019t stop",
    "&amp;lt;b&amp;gt; &eacute;",
    "<end_of_text>",
    "<START_OF_TEXT> hello",
    "!!<end_of_text>x",
    "x" * 400,
    "the " * 100,
    "I'm sure we'll go, they'd say",
    "\u00c3\u00a9 mojibake",
]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClipTokenizer, object]:
    reference = open_clip.get_tokenizer("ViT-B-32")
    folder = tmp_path_factory.mktemp("tokenizer")
    params, files = tokenizer_tables(reference)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return ClipTokenizer(folder, params), reference


def test_token_ids_equal_open_clips_on_edge_cases_and_random_texts(
    tokenizers: tuple[ClipTokenizer, object],
) -> None:
    ours, reference = tokenizers
    rng = random.Random(0)
    texts = EDGE_CASES + [
        "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 90))) for _ in range(1500)
    ]
    expected = reference(texts).numpy()  # type: ignore[operator]
    actual = ours(texts)
    assert actual.dtype == np.int64 and actual.shape == expected.shape == (len(texts), 77)
    differing = [texts[row] for row in np.flatnonzero((actual != expected).any(axis=1))]
    assert differing == []
    assert actual[EDGE_CASES.index("x" * 400), -1] == expected[0, 1]  # truncated: the end token stays last


def test_other_tokenizers_are_refused() -> None:
    reference = open_clip.get_tokenizer("ViT-B-32")
    reference.clean_fn = lambda text: text  # what a 'whitespace' or 'canonicalize' tokenizer differs in
    with pytest.raises(TokenizerUnsupportedError, match="not supported"):
        tokenizer_tables(reference)
    with pytest.raises(TokenizerUnsupportedError):
        tokenizer_tables(object())


def test_loads_from_the_files_alone(tokenizers: tuple[ClipTokenizer, object], tmp_path: Path) -> None:
    ours, _ = tokenizers
    assert ours(["a red car"])[0, :5].tolist() == [49406, 320, 736, 1615, 49407]

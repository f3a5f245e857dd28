"""Exactness of the fast query paths: same embeddings (1e-4) and same top-10 as plain open_clip."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import open_clip
import pytest
import torch
from support.images import make_image
from support.paths import TINY_MODEL
from support.rankings import QUERIES, assert_same_rankings, fixed_index, reference_model, reference_texts
from support.tiny import BuiltIndex
from support.weights import save_random_checkpoint

from imagesearch.config import Settings
from imagesearch.encoders.fast_paths import (
    TEXT_PATH_REFERENCE,
    TEXT_PATH_TRUNCATED,
    encode_text_fast,
    text_path,
)
from imagesearch.encoders.protocol import Encoder
from imagesearch.images import decode_image
from imagesearch.search.service import Searcher
from imagesearch.vectors import FloatArray, normalize_rows


# Fixed query set: 1 to 80 words (the last ones hit the 77-token limit), odd spacing and case.
def test_causal_clip_takes_the_truncated_path(tiny_reference: Any) -> None:
    assert text_path(tiny_reference) == TEXT_PATH_TRUNCATED


def test_non_causal_text_tower_keeps_the_reference_path(tiny_checkpoint: Path) -> None:
    model = reference_model(TINY_MODEL, tiny_checkpoint)
    model.attn_mask = torch.zeros_like(model.attn_mask)  # bidirectional: padding would matter
    assert text_path(model) == TEXT_PATH_REFERENCE
    tokens = open_clip.get_tokenizer(TINY_MODEL)(["a red car"])
    with torch.inference_mode():
        torch.testing.assert_close(
            encode_text_fast(model, tokens, text_path(model)), model.encode_text(tokens)
        )


def test_truncated_batch_equals_reference(tiny_reference: Any) -> None:
    tokens = open_clip.get_tokenizer(TINY_MODEL)(QUERIES)
    with torch.inference_mode():
        expected = tiny_reference.encode_text(tokens)
        actual = encode_text_fast(tiny_reference, tokens, TEXT_PATH_TRUNCATED)
    assert float((actual - expected).abs().max()) < 1e-5


def test_encoder_texts_match_reference_and_rank_identically(
    tiny_encoder: Encoder, tiny_reference: Any
) -> None:
    expected = reference_texts(tiny_reference, TINY_MODEL, QUERIES)
    actual = tiny_encoder.encode_texts(QUERIES)
    assert float(np.abs(actual - expected).max()) < 1e-4
    assert_same_rankings(fixed_index(tiny_encoder.dim), expected, actual)


@pytest.mark.slow
def test_vit_b_32_texts_match_reference_and_rank_identically(tmp_path: Path) -> None:
    from imagesearch.encoders.factory import load_encoder

    settings = Settings(model="ViT-B-32", pretrained=str(tmp_path / "vitb32.pt"), encoder="clip")
    save_random_checkpoint(settings, Path(settings.pretrained))
    encoder = load_encoder(settings)
    expected = reference_texts(reference_model("ViT-B-32", Path(settings.pretrained)), "ViT-B-32", QUERIES)
    actual = encoder.encode_texts(QUERIES)
    assert float(np.abs(actual - expected).max()) < 1e-4
    assert_same_rankings(fixed_index(encoder.dim), expected, actual)


class CountingEncoder:
    """Wraps an encoder and counts text encodes (to see the cache at work)."""

    def __init__(self, inner: Encoder) -> None:
        self.inner = inner
        self.text_calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode_texts(self, texts: Any) -> FloatArray:
        self.text_calls += 1
        return self.inner.encode_texts(texts)


def test_repeated_query_hits_the_cache_with_identical_results(
    built_index: BuiltIndex, tiny_encoder: Encoder
) -> None:
    counting = CountingEncoder(tiny_encoder)
    searcher = Searcher.load(built_index.settings, counting)  # type: ignore[arg-type]
    first = searcher.search_text("a red  car", 10)
    again = searcher.search_text("  a red car ", 10)  # same query once whitespace is normalised
    assert counting.text_calls == 1
    assert again == first
    searcher.search_text("a blue car", 10)
    assert counting.text_calls == 2


def test_cache_is_bounded_and_can_be_disabled(built_index: BuiltIndex, tiny_encoder: Encoder) -> None:
    counting = CountingEncoder(tiny_encoder)
    settings = built_index.settings.model_copy(update={"text_cache_size": 2})
    searcher = Searcher.load(settings, counting)  # type: ignore[arg-type]
    for text in ("one", "two", "three", "one"):
        searcher.search_text(text, 3)
    assert counting.text_calls == 4  # "one" was evicted by "three"
    assert len(searcher.queries.text_cache) == 2
    off = Searcher.load(settings.model_copy(update={"text_cache_size": 0}), counting)  # type: ignore[arg-type]
    off.search_text("one", 3)
    off.search_text("one", 3)
    assert counting.text_calls == 6 and len(off.queries.text_cache) == 0


def jpeg(seed: int, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    make_image(seed, size).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def test_draft_decode_keeps_min_side_and_ignores_other_formats() -> None:
    data = jpeg(1, (2000, 1500))
    assert decode_image(data, 10**8).size == (2000, 1500)
    drafted = decode_image(data, 10**8, min_side=448)
    assert drafted.size == (1000, 750)  # 1/2 scale: 1/4 would make the short side 375 < 448
    png = io.BytesIO()
    make_image(1, (2000, 1500)).save(png, format="PNG")
    assert decode_image(png.getvalue(), 10**8, min_side=448).size == (2000, 1500)


def test_default_image_search_is_the_full_decode(built_index: BuiltIndex, tiny_encoder: Encoder) -> None:
    assert Settings().jpeg_draft_factor == 0
    searcher = Searcher.load(built_index.settings, tiny_encoder)
    data = jpeg(3, (1600, 1200))
    expected = searcher.search_vectors(tiny_encoder.encode_images([decode_image(data, 10**8)]), 10)
    assert searcher.search_image(data, 10) == expected


def test_draft_decode_keeps_top_10_on_a_fixed_set(tiny_encoder: Encoder) -> None:
    """Opt-in JPEG draft (factor 2): embeddings move slightly, rankings on this set do not."""
    blobs = [jpeg(seed, (1280 + 320 * (seed % 4), 960 + 240 * (seed % 4))) for seed in range(24)]
    full = tiny_encoder.encode_images([decode_image(data, 10**8) for data in blobs])
    drafted = tiny_encoder.encode_images([decode_image(data, 10**8, min_side=448) for data in blobs])
    index = faiss.IndexFlatIP(tiny_encoder.dim)
    index.add(full)
    assert_same_rankings(index, full, drafted)
    assert float(np.min(np.sum(full * drafted, axis=1))) > 0.999


def test_one_faiss_thread_gives_the_same_hits(built_index: BuiltIndex, tiny_encoder: Encoder) -> None:
    from imagesearch import compute
    from imagesearch.search.index_search import IndexSearch

    searcher = Searcher.load(built_index.settings, tiny_encoder)  # default faiss_threads=1
    queries = tiny_encoder.encode_texts(QUERIES)
    index = searcher.bundle.index
    thread = compute.shared()
    threads_before = thread.run(faiss.omp_get_max_threads)
    expected = thread.run(index.search, queries, 10)  # with the compute thread's own count
    seen: list[int] = []

    class Recording:
        d = index.d

        def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            seen.append(faiss.omp_get_max_threads())
            return index.search(vectors, k)  # type: ignore[no-any-return]

    assert searcher.settings.faiss_threads == 1  # the default
    actual = IndexSearch(Recording(), searcher.settings.faiss_threads).search(queries, 10)
    assert seen == [1]  # the search ran with faiss_threads=1 ...
    assert thread.run(faiss.omp_get_max_threads) == threads_before  # ... and torch's count is back
    np.testing.assert_array_equal(np.stack([ids for _, ids in actual]), expected[1])
    np.testing.assert_allclose(np.stack([scores for scores, _ in actual]), expected[0], atol=1e-6)


def test_numpy_normalisation_is_bit_identical_to_open_clip_preprocess(
    tiny_checkpoint: Path, tiny_encoder: Encoder
) -> None:
    _, _, preprocess = open_clip.create_model_and_transforms(TINY_MODEL, pretrained=str(tiny_checkpoint))
    sizes = [(1600, 1200), (224, 224), (97, 301), (3000, 400), (640, 480)]
    for seed, size in enumerate(sizes):
        image = make_image(seed, size)
        expected = preprocess(image).numpy()
        actual = tiny_encoder.prepare(image)
        assert actual.dtype == np.float32 and actual.shape == expected.shape
        np.testing.assert_array_equal(actual, expected)


def test_vit_b_32_image_path_matches_open_clip_from_any_thread(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from imagesearch.encoders.clip import ClipEncoder

    settings = Settings(model="ViT-B-32", pretrained=str(tmp_path / "b32.pt"))
    save_random_checkpoint(settings, Path(settings.pretrained))
    encoder = ClipEncoder(settings)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32", pretrained=settings.pretrained)
    model.eval()
    images = [make_image(seed, (800 + 37 * seed, 600)) for seed in range(6)]
    with torch.inference_mode():
        expected = normalize_rows(model.encode_image(torch.stack([preprocess(i) for i in images])).numpy())
    actual = encoder.encode_images(images)
    assert encoder.query_runtime == "onnxruntime fp32"  # the default query path
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    assert_same_rankings(fixed_index(expected.shape[1]), expected, actual)
    # Calls from many threads at once (as the API makes them) are funnelled through the
    # encoder's one torch thread and give the same vectors as calls made one by one.
    texts = QUERIES[1:7]
    one_by_one = np.concatenate([encoder.encode_texts([text]) for text in texts])
    with ThreadPoolExecutor(4) as pool:
        concurrent = np.concatenate(list(pool.map(lambda text: encoder.encode_texts([text]), texts)))
        images_again = np.concatenate(list(pool.map(lambda image: encoder.encode_images([image]), images)))
    np.testing.assert_allclose(concurrent, one_by_one, atol=1e-5)  # may run as one batch
    assert_same_rankings(fixed_index(one_by_one.shape[1]), one_by_one, concurrent)
    np.testing.assert_allclose(images_again, expected, atol=1e-5)

import io
from pathlib import Path

import pytest
from PIL import Image
from support.tiny import BuiltIndex

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import IndexLoadError, InvalidQueryError
from imagesearch.index.store import load_bundle
from imagesearch.search.service import Searcher


@pytest.fixture(scope="module")
def searcher(built_index: BuiltIndex, tiny_encoder: Encoder) -> Searcher:
    return Searcher.load(built_index.settings, tiny_encoder)


def test_every_image_finds_itself_first(searcher: Searcher) -> None:
    for image_id, source in enumerate(searcher.bundle.urls):
        hits = searcher.search_image(Path(source).read_bytes(), top_k=5)
        assert hits[0].id == image_id and hits[0].source == source
        assert hits[0].score == pytest.approx(1.0, abs=1e-4)
        assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)


def test_resized_recompressed_copy_finds_its_original(searcher: Searcher) -> None:
    for image_id in (0, 7, 19):
        original = Image.open(searcher.bundle.urls[image_id]).convert("RGB")
        buffer = io.BytesIO()
        original.resize((original.width * 2 // 3, original.height * 2 // 3)).save(buffer, "JPEG", quality=70)
        hits = searcher.search_image(buffer.getvalue(), top_k=3)
        assert hits[0].id == image_id
        assert hits[0].score > 0.95


def test_text_search_shape(searcher: Searcher) -> None:
    # Random weights: only the structure of the answer is meaningful.
    hits = searcher.search_text("  a   person on a bicycle ", top_k=5)
    assert len(hits) == 5 and len({hit.id for hit in hits}) == 5
    assert all(-1.0 <= hit.score <= 1.0 for hit in hits)


def test_top_k_larger_than_index_returns_everything(searcher: Searcher) -> None:
    assert len(searcher.search_text("x", top_k=1000)) == searcher.size


@pytest.mark.parametrize("query", ["", "   ", "x" * 501])
def test_bad_queries(searcher: Searcher, query: str) -> None:
    with pytest.raises(InvalidQueryError):
        searcher.search_text(query, top_k=5)


def test_local_path_only_for_indexed_ids(searcher: Searcher) -> None:
    assert searcher.bundle.local_path(3) == Path(searcher.bundle.urls[3])
    for bad in (-1, searcher.size, 10**9):
        with pytest.raises(InvalidQueryError):
            searcher.bundle.local_path(bad)


def test_index_from_another_model_is_refused(built_index: BuiltIndex, tmp_path: Path) -> None:
    from support.tiny import tiny_settings
    from support.weights import save_random_checkpoint

    from imagesearch.encoders.factory import load_encoder

    other_ckpt = save_random_checkpoint(built_index.settings, tmp_path / "other.pt", seed=1)
    other = load_encoder(tiny_settings(other_ckpt, tmp_path))
    with pytest.raises(IndexLoadError, match="built with open_clip:test-tiny-clip:sha256-"):
        Searcher(built_index.settings, other, load_bundle(built_index.settings))

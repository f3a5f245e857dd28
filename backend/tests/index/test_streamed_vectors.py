"""The streamed second stage: a vectors file written chunk by chunk is byte for byte the file
``faiss.write_index`` writes for the same IndexFlatIP, maps like it, and builds the same index."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest
from support.manifests import manifest_for

from imagesearch.config import Settings
from imagesearch.index import two_stage
from imagesearch.index.factory import build_index, build_two_stage
from imagesearch.index.index_files import map_vectors_file, write_vectors_file
from imagesearch.index.store import load_bundle, save_bundle
from imagesearch.index.tuning import exact_search

FACTORY = "IVF16,PQ8x4fs,RFlat"


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def chunks(vectors: np.ndarray, rows: int) -> list[np.ndarray]:
    return [vectors[start : start + rows] for start in range(0, len(vectors), rows)]


@pytest.mark.parametrize(("n", "rows"), [(1000, 128), (1, 1), (0, 1)])
def test_streamed_file_equals_faiss_write_index(tmp_path: Path, n: int, rows: int) -> None:
    vectors = unit_vectors(n)
    write_vectors_file(tmp_path / "streamed.faiss", chunks(vectors, rows), n, 32)
    faiss.write_index(two_stage.vectors_index(vectors), str(tmp_path / "faiss.faiss"))
    assert (tmp_path / "streamed.faiss").read_bytes() == (tmp_path / "faiss.faiss").read_bytes()
    mapped = faiss.read_index(str(tmp_path / "streamed.faiss"), faiss.IO_FLAG_MMAP_IFC)
    assert mapped.ntotal == n
    if n:
        np.testing.assert_array_equal(mapped.reconstruct_n(0, n), vectors)


def test_streamed_file_refuses_wrong_chunks(tmp_path: Path) -> None:
    vectors = unit_vectors(100)
    with pytest.raises(ValueError, match="not 101"):
        write_vectors_file(tmp_path / "short.faiss", chunks(vectors, 30), 101, 32)
    with pytest.raises(ValueError, match="does not continue"):
        write_vectors_file(tmp_path / "wide.faiss", [unit_vectors(10, dim=16)], 10, 32)


def test_streamed_build_equals_in_ram_build(tmp_path: Path) -> None:
    vectors = unit_vectors(3000)
    stored = tmp_path / "vectors.npy"
    np.save(stored, vectors)
    mapped_vectors = np.load(stored, mmap_mode="r")
    write_vectors_file(tmp_path / "v.faiss", chunks(mapped_vectors, 700), 3000, 32)
    refine = map_vectors_file(tmp_path / "v.faiss")
    settings = Settings(index_factory=FACTORY)
    streamed, streamed_tuning = build_two_stage(mapped_vectors, settings, refine, chunk_rows=700)
    in_ram, in_ram_tuning = build_index(vectors, settings)
    assert streamed_tuning == in_ram_tuning
    queries = unit_vectors(50, seed=1)
    np.testing.assert_array_equal(streamed.search(queries, 10)[1], in_ram.search(queries, 10)[1])


def test_saving_moves_the_streamed_file_into_the_commit(tmp_path: Path) -> None:
    """The vectors file written for a streamed build becomes the committed one by a rename (same
    inode, its name gone: no second copy of what is 20 GB at 10M), and the saved index loads and
    searches as the built one; saving the same index again writes the vectors out."""
    vectors = unit_vectors(2000)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    streamed = data_dir / "streamed.faiss"
    write_vectors_file(streamed, chunks(vectors, 500), 2000, 32)
    inode = streamed.stat().st_ino
    settings = Settings(index_factory=FACTORY, data_dir=data_dir)
    index, tuning = build_two_stage(vectors, settings, map_vectors_file(streamed), streamed)
    manifest = manifest_for(tuning)
    save_bundle(settings, index, [str(i) for i in range(2000)], manifest)
    assert not streamed.exists()
    assert settings.vectors_path.stat().st_ino == inode
    queries = unit_vectors(30, seed=3)
    loaded = load_bundle(settings)
    np.testing.assert_array_equal(loaded.index.search(queries, 10)[1], index.search(queries, 10)[1])
    again = Settings(index_factory=FACTORY, data_dir=tmp_path / "again")
    save_bundle(again, index, [str(i) for i in range(2000)], manifest)
    assert again.vectors_path.read_bytes() == settings.vectors_path.read_bytes()


def test_exact_search_by_blocks_equals_one_flat_index() -> None:
    vectors, queries = unit_vectors(2000), unit_vectors(40, seed=2)
    flat = faiss.IndexFlatIP(32)
    flat.add(vectors)
    want_scores, want_ids = flat.search(queries, 10)
    scores, ids = exact_search(vectors, queries, 10, block_bytes=300 * 32 * 4)
    np.testing.assert_allclose(scores, want_scores, rtol=1e-5)
    np.testing.assert_array_equal(ids, want_ids)

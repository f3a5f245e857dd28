"""Inverted lists on disk (index/on_disk.py): built shard by shard and merged on disk, they search
exactly as FAISS's own in-RAM index of the same training; a streamed build merges them when even
the smallest code the chooser allows exceeds the budget; a saved index loads them from beside
its index file, from any working directory and after the data folder moved, and refuses a
tampered lists file."""

from __future__ import annotations

import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest
from support.manifests import manifest_for

from imagesearch.config import Settings
from imagesearch.errors import IndexLoadError
from imagesearch.index import on_disk, two_stage
from imagesearch.index.append import can_append
from imagesearch.index.factory import build_index, build_two_stage, choose_factory, lists_merged_on_disk
from imagesearch.index.index_files import map_vectors_file, write_vectors_file
from imagesearch.index.store import load_bundle, save_bundle

DIM = 32


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).normal(size=(50, DIM))
    block = centres[rng.integers(0, 50, n)] + 0.4 * rng.normal(size=(n, DIM))
    return (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)


def test_lists_merged_on_disk_search_as_faiss_in_ram(tmp_path: Path) -> None:
    vectors, queries = clustered(12_000), clustered(100, seed=1)
    trained = faiss.index_factory(DIM, "IVF64,PQ4", faiss.METRIC_INNER_PRODUCT)
    trained.train(vectors)
    in_ram = faiss.clone_index(trained)
    in_ram.add(vectors)
    merged = on_disk.add_on_disk(faiss.clone_index(trained), vectors, 5_000, tmp_path / "lists.ivfdata")
    assert on_disk.lists_of(merged) is not None and on_disk.lists_of(in_ram) is None
    assert merged.ntotal == 12_000 and list(tmp_path.iterdir()) == [tmp_path / "lists.ivfdata"]
    for nprobe in (1, 8, 64):
        in_ram.nprobe = merged.nprobe = nprobe
        want, got = in_ram.search(queries, 10), merged.search(queries, 10)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])


def build_saved(data_dir: Path) -> tuple[Settings, object, np.ndarray]:
    """A two-stage index over 12k vectors with a budget no code fits: lists on disk."""
    settings = Settings(data_dir=data_dir, index_memory_gb=1e-5, flat_max_vectors=1000)
    vectors = clustered(12_000)
    factory = choose_factory(len(vectors), DIM, settings)
    assert factory.startswith("OPQ4,IVF") and factory.endswith(",PQ4,RFlat")
    assert lists_merged_on_disk(factory, len(vectors), DIM, settings)
    streamed = settings.vectors_path.with_name("streamed.faiss")
    streamed.parent.mkdir(parents=True)
    write_vectors_file(streamed, [vectors], len(vectors), DIM)
    index, tuning = build_two_stage(vectors, settings, map_vectors_file(streamed), streamed, chunk_rows=5_000)
    manifest = manifest_for(tuning)
    save_bundle(settings, index, [str(i) for i in range(len(vectors))], manifest)
    return settings, index, vectors


def test_saved_lists_load_from_beside_the_index_wherever_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, built, vectors = build_saved(tmp_path / "data")
    folder = settings.vectors_path.parent
    assert sorted(path.name for path in folder.iterdir()) == [
        "image_index.faiss",
        "image_lists.ivfdata",
        "image_vectors.faiss",
    ]  # the merged lists and the streamed vectors were moved in, nothing left beside them
    queries = clustered(50, seed=2)
    want = built.search(queries, 10)  # type: ignore[attr-defined]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    moved = Settings(data_dir=tmp_path / "moved")
    shutil.move(settings.data_dir, moved.data_dir)  # an archive unpacked in another place
    bundle = load_bundle(moved)
    assert bundle.manifest.lists_file == "faiss_index/image_lists.ivfdata" and bundle.manifest.lists_bytes > 0
    first = two_stage.stages(bundle.index)
    assert first is not None and on_disk.lists_of(first[0]) is not None
    assert not can_append(bundle.index)
    got = bundle.index.search(queries, 10)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], np.einsum("qkd,qd->qk", vectors[got[1]], queries), atol=1e-5)

    with moved.lists_path.open("r+b") as handle:
        handle.seek(100)
        handle.write(b"\xff\xfe")
    with pytest.raises(IndexLoadError, match=r"image_lists\.ivfdata does not match"):
        load_bundle(moved)


def test_lists_built_in_ram_stay_in_the_index_file(tmp_path: Path) -> None:
    """The same kind of index built in RAM (``build_index``: an incremental merge, a forced
    factory, codes within the budget) is saved as one index file holding its lists, read (mapped)
    as any other index, and can be appended to."""
    settings = Settings(data_dir=tmp_path / "data", index_factory="IVF64,PQ4,RFlat")
    vectors, queries = clustered(6_000), clustered(50, seed=3)
    index, tuning = build_index(vectors, settings)
    manifest = manifest_for(tuning)
    save_bundle(settings, index, [str(i) for i in range(len(vectors))], manifest)
    assert not settings.lists_path.exists()
    bundle = load_bundle(settings)
    first = two_stage.stages(bundle.index)
    assert first is not None and on_disk.lists_of(first[0]) is None and not bundle.manifest.lists_file
    assert can_append(bundle.index)
    np.testing.assert_array_equal(bundle.index.search(queries, 10)[1], index.search(queries, 10)[1])

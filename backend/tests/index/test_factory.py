"""Automatic index choice, build-time tuning of efSearch / nprobe, and memory-mapped loading."""

from pathlib import Path

import faiss
import numpy as np
import pytest
from support.manifests import manifest_for
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.errors import IndexBuildError, IndexLoadError
from imagesearch.index.factory import (
    build_index,
    choose_factory,
    choose_nlist,
    estimate_bytes,
    lists_merged_on_disk,
    resident_bytes,
)
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import load_bundle, save_bundle


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres: the structure that makes ANN recall non-trivial."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dim))
    vectors = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(
    ("n", "memory_gb", "expected"),
    [
        (10_000, 4.0, "Flat"),
        # The default budget at 1M: IVF-Flat, not HNSW (0.90 recall@10 there, bench/RESULTS.md).
        (1_000_000, 4.0, "IVF4096,Flat"),
        (1_000_000, 2.5, "IVF4096,Flat"),
        # IVF-Flat (2.06 GB) does not fit: two-stage, 64-byte OPQ codes in RAM, vectors mapped.
        (1_000_000, 1.5, "OPQ64,IVF4096,PQ64,RFlat"),
        (10_000_000, 1.5, "OPQ64,IVF16384,PQ64,RFlat"),
        (10_000_000, 0.5, "OPQ32,IVF16384,PQ32,RFlat"),
        # Even 8-byte codes (1.6 GB with their ids) do not fit: the largest code, its inverted
        # lists merged on disk (index/on_disk.py), centroids in RAM.
        (100_000_000, 1.5, "OPQ64,IVF32768,PQ64,RFlat"),
    ],
)
def test_choice_follows_size_and_memory_budget(n: int, memory_gb: float, expected: str) -> None:
    settings = Settings(index_memory_gb=memory_gb)
    factory = choose_factory(n, 512, settings)
    assert factory == expected
    assert resident_bytes(factory, n, 512, settings) <= memory_gb * 1e9
    assert lists_merged_on_disk(factory, n, 512, settings) == (n == 100_000_000)
    if factory.endswith(",RFlat"):  # and only because IVF-Flat did not fit
        assert estimate_bytes(f"IVF{choose_nlist(n)},Flat", n, 512) > memory_gb * 0.9e9


def test_forced_factory_string_wins() -> None:
    assert choose_factory(10, 512, Settings(index_factory="IVF4,Flat")) == "IVF4,Flat"


@pytest.mark.parametrize(
    ("factory", "knobs", "index_type"),
    [
        ("HNSW32,Flat", {"efSearch"}, "IndexHNSWFlat"),
        ("IVF32,Flat", {"nprobe"}, "IndexIVFFlat"),
        ("IVF32,PQ8x4fs,RFlat", {"nprobe", "k_factor_rf"}, "IndexRefine"),
    ],
)
def test_knobs_are_tuned_to_the_target_stored_and_applied_at_load(
    tmp_path: Path, factory: str, knobs: set[str], index_type: str
) -> None:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data", index_factory=factory)
    vectors = clustered(3000)
    index, tuning = build_index(vectors, settings)
    assert set(tuning.search_params) == knobs
    assert tuning.recall_at_10 is not None and tuning.recall_at_10 >= 0.95
    urls = [f"https://img/{i}.jpg" for i in range(len(vectors))]
    saved = save_bundle(settings, index, urls, manifest_for(tuning))
    assert saved.index_type == index_type

    bundle = load_bundle(settings)
    assert bundle.manifest.search_params == tuning.search_params
    for knob in knobs:
        assert _knob_value(bundle.index, knob) == tuning.search_params[knob]
    # Each vector finds itself first (among 10: a two-stage index re-ranks k*R candidates, and
    # R was tuned for k = 10; search/index_search.py keeps that pool for smaller k).
    _, ids = bundle.index.search(vectors[:50], 10)
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.95


def _knob_value(index: object, knob: str) -> int:
    if knob == "efSearch":
        return int(faiss.downcast_index(index).hnsw.efSearch)
    if knob == "k_factor_rf":
        return int(index.k_factor)  # type: ignore[attr-defined]
    return int(faiss.extract_index_ivf(index).nprobe)


def test_small_collections_stay_exact(tmp_path: Path) -> None:
    index, tuning = build_index(clustered(100), tiny_settings(tmp_path / "x.pt", tmp_path))
    assert type(index).__name__ == "IndexFlatIP"
    assert tuning.factory == "Flat" and tuning.search_params == {} and tuning.recall_at_10 == 1.0


def test_an_unbuildable_factory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexBuildError, match="cannot build a 'NoSuchIndex'"):
        build_index(clustered(100), tiny_settings(tmp_path / "x.pt", tmp_path, index_factory="NoSuchIndex"))


def test_manifests_without_the_new_fields_still_load() -> None:
    old = '{"encoder_id": "e", "model": "m", "pretrained": "p", "dim": 8, "count": 1, "index_type": "Flat"}'
    manifest = Manifest.model_validate_json(old)
    assert manifest.index_factory == "" and manifest.search_params == {} and manifest.recall_at_10 is None


@pytest.mark.parametrize("factory", ["Flat", "HNSW16,Flat", "IVF16,Flat"])
def test_large_indexes_are_memory_mapped_and_still_checked(tmp_path: Path, factory: str) -> None:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data", index_factory=factory, mmap_min_bytes=0)
    vectors = clustered(2000)
    index, tuning = build_index(vectors, settings)
    save_bundle(settings, index, [str(i) for i in range(2000)], manifest_for(tuning))
    expected = index.search(vectors[:20], 5)[1]

    mapped = load_bundle(settings)
    np.testing.assert_array_equal(mapped.index.search(vectors[:20], 5)[1], expected)

    data = bytearray(settings.index_path.read_bytes())
    data[-1] ^= 0xFF
    settings.index_path.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="checksum"):
        load_bundle(settings)


def test_pipeline_cli_forces_a_factory_and_records_the_tuning(
    image_dir: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from support.paths import BACKEND_DIR
    from support.tiny import settings_env

    settings = tiny_settings(tiny_checkpoint, tmp_path / "data")
    result = subprocess.run(
        [sys.executable, str(BACKEND_DIR / "run_pipeline.py"), str(image_dir), "--index-factory=HNSW8,Flat"],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = load_bundle(settings).manifest
    assert manifest.index_type == "IndexHNSWFlat" and manifest.index_factory == "HNSW8,Flat"
    assert "efSearch" in manifest.search_params and manifest.recall_at_10 == 1.0


def numpy_recall_at_10(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray) -> float:
    """Share of returned ids that are among the exact top 10 (brute force in numpy)."""
    truth = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, truth, strict=True)]))


def test_tuner_stops_at_the_recall_plateau_of_coarse_codes_instead_of_an_exhaustive_scan(
    tmp_path: Path,
) -> None:
    # 4-byte PQ codes over 64-d vectors cannot reach recall 0.95 at any nprobe.
    vectors = clustered(6000, dim=64)
    queries = clustered(300, dim=64, seed=1)
    settings = Settings(index_factory="IVF64,PQ4", data_dir=tmp_path)
    index, tuning = build_index(vectors, settings)
    nprobe = tuning.search_params["nprobe"]
    assert nprobe < 64, "the tuner climbed to an exhaustive scan"
    _, ids = index.search(queries, 10)
    at_chosen = numpy_recall_at_10(ids, vectors, queries)
    index.nprobe = 64
    _, ids = index.search(queries, 10)
    exhaustive = numpy_recall_at_10(ids, vectors, queries)
    assert exhaustive < 0.95  # the premise: out of reach
    assert at_chosen >= exhaustive - 0.02  # nothing worth having was given up

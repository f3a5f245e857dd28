"""The two-stage index: exact re-ranking (FAISS's IndexFlatIP is the oracle), its two files
(mapped, checksummed, checked against each other, crash-safe), and its choice and tuning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest
from support.manifests import manifest_for
from support.paths import BACKEND_DIR
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.errors import IndexLoadError
from imagesearch.index import two_stage
from imagesearch.index.factory import build_index, choose_factory, estimate_bytes
from imagesearch.index.store import load_bundle, save_bundle
from imagesearch.index.stored_vectors import StoredVectors, stores_exact_vectors

FACTORY = "IVF64,PQ8x4fs,RFlat"  # 4-byte codes over 32-d: coarse, so the re-ranking does the work
K = 10


def clustered(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres (the structure that makes ANN recall non-trivial)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(size=(50, dim))
    vectors = centres[rng.integers(0, 50, n)] + 0.5 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return clustered(20_000)


@pytest.fixture(scope="module")
def built(vectors: np.ndarray) -> tuple[object, object]:
    return build_index(vectors, Settings(index_factory=FACTORY))


def oracle(vectors: np.ndarray) -> object:
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    return exact


def test_second_stage_scores_are_exact_and_its_top_k_is_the_exact_one_when_the_candidates_hold_it(
    built, vectors
) -> None:
    index, _ = built
    queries = clustered(200, seed=1)
    scores, ids = index.search(queries, K)
    exact_scores, exact_ids = oracle(vectors).search(queries, K)
    # Every returned score is the exact inner product of its vector (FAISS's flat index says so).
    for query, row_ids, row_scores in zip(queries, ids, scores, strict=True):
        flat = oracle(vectors[row_ids])
        np.testing.assert_allclose(row_scores, flat.search(query[None], K)[0][0], rtol=0, atol=1e-6)
    # Where the first stage's k*R candidates contain the exact top k, the answer is that top k.
    _, candidates = two_stage.stages(index)[0].search(queries, K * int(index.k_factor))
    held = [set(want) <= set(got) for want, got in zip(exact_ids, candidates, strict=True)]
    assert sum(held) >= len(queries) // 2  # the premise: the test covers many queries
    np.testing.assert_array_equal(ids[held], exact_ids[held])
    np.testing.assert_allclose(scores[held], exact_scores[held], rtol=0, atol=1e-6)


def test_stored_vectors_are_the_exact_ones_without_an_ivf_direct_map(built, vectors) -> None:
    index, _ = built
    assert stores_exact_vectors(index)
    ids = [0, 17, 19_999, 5]
    np.testing.assert_allclose(StoredVectors(index).get(ids), vectors[ids], atol=1e-6)
    np.testing.assert_array_equal(index.reconstruct_batch(np.array(ids, dtype=np.int64)), vectors[ids])
    # reconstruct goes through the flat second stage: the IVF needs (and got) no id -> list map.
    assert faiss.extract_index_ivf(index).direct_map.type == faiss.DirectMap.NoMap


def test_the_chooser_picks_two_stage_where_ivf_flat_does_not_fit_and_tuning_reaches_the_target(
    vectors,
) -> None:
    settings = Settings(index_memory_gb=0.002, flat_max_vectors=1000)  # 1.8 MB: codes yes, vectors no
    factory = choose_factory(len(vectors), 32, settings)
    assert two_stage.is_two_stage(factory)
    n = len(vectors)
    assert estimate_bytes(factory, n, 32) <= 1.8e6 < estimate_bytes("IVF512,Flat", n, 32)
    index, tuning = build_index(vectors, settings)
    assert set(tuning.search_params) == {"nprobe", "k_factor_rf"}
    assert tuning.recall_at_10 is not None and tuning.recall_at_10 >= 0.95
    # On new queries of the same clusters, judged by FAISS's exact search. Leave-one-out tuning
    # with its margin measured 0.961 here and the new queries 0.947 (the moved queries tuned
    # before measured 0.985 for 0.925): these 4-byte codes of 32-d vectors are the hardest case;
    # 512-d collections measured >= 0.951 (tuning.HELD_OUT_MARGIN). 300 queries: +-0.004.
    queries = clustered(300, seed=2)
    _, ids = index.search(queries, K)
    _, exact = oracle(vectors).search(queries, K)
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(ids, exact, strict=True)])
    assert recall >= 0.94


def save(tmp_path: Path, built, n: int) -> Settings:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    index, tuning = built
    save_bundle(settings, index, [f"https://img/{i}.jpg" for i in range(n)], manifest_for(tuning))
    return settings


def test_round_trip_maps_the_vectors_file_and_checksums_both_files(tmp_path, built, vectors) -> None:
    settings = save(tmp_path, built, len(vectors))
    bundle = load_bundle(settings)
    manifest = bundle.manifest
    assert manifest.index_type == "IndexRefine" and manifest.vectors_file == "faiss_index/image_vectors.faiss"
    assert manifest.vectors_bytes == settings.vectors_path.stat().st_size > vectors.nbytes
    assert {"faiss_index/image_index.faiss", "faiss_index/image_vectors.faiss"} <= set(manifest.checksums)
    # The second stage's storage is a mapping of the file, not a copy FAISS owns.
    refine = faiss.downcast_index(bundle.index.refine_index)
    assert not refine.codes.is_owned
    maps = Path(f"/proc/{os.getpid()}/maps").read_text()
    assert str(settings.vectors_path.resolve()) in maps
    assert bundle.index.k_factor == manifest.search_params["k_factor_rf"]
    queries = clustered(20, seed=3)
    np.testing.assert_array_equal(bundle.index.search(queries, K)[1], built[0].search(queries, K)[1])


@pytest.mark.parametrize("verify", [True, False])
def test_a_truncated_vectors_file_is_refused(tmp_path, built, vectors, verify) -> None:
    settings = save(tmp_path, built, len(vectors)).model_copy(update={"verify_checksums": verify})
    data = settings.vectors_path.read_bytes()
    settings.vectors_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexLoadError, match="checksum" if verify else "vectors|FAISS"):
        load_bundle(settings)


def test_a_vectors_file_of_another_build_is_refused(tmp_path, built, vectors) -> None:
    settings = save(tmp_path, built, len(vectors))
    other = build_index(clustered(len(vectors) // 2, seed=4), Settings(index_factory=FACTORY))
    other_settings = save(tmp_path / "other", other, len(vectors) // 2)
    settings.vectors_path.write_bytes(other_settings.vectors_path.read_bytes())
    with pytest.raises(IndexLoadError, match="checksum"):
        load_bundle(settings)
    unchecked = settings.model_copy(update={"verify_checksums": False})
    with pytest.raises(IndexLoadError, match="does not belong"):
        load_bundle(unchecked)  # the stages disagree: 20000 codes, 10000 vectors


CRASHING_SAVE = """
import os, signal, sys
import numpy as np
from imagesearch.config import Settings
from imagesearch.index import commit
from imagesearch.index.factory import build_index
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import save_bundle

point, data_dir, vectors_file, factory = sys.argv[1:]
vectors = np.load(vectors_file)
settings = Settings(data_dir=data_dir, index_factory=factory)
if point == "staged":  # both index files staged, the manifest not yet: before the commit point
    stage = commit.stage_file
    def stage_then_die(target, data):
        if target.name == "manifest.json":
            os.kill(os.getpid(), signal.SIGKILL)
        return stage(target, data)
    commit.stage_file = stage_then_die
else:  # after the commit point: the first staged file renamed into place, then killed
    from pathlib import Path
    replace = Path.replace
    def replace_then_die(self, target):
        result = replace(self, target)
        os.kill(os.getpid(), signal.SIGKILL)
    Path.replace = replace_then_die
index, tuning = build_index(vectors, settings)
manifest = Manifest(encoder_id="e", model="m", pretrained="p", dim=0, count=0, index_type="new")
save_bundle(settings, index, [f"new/{i}" for i in range(len(vectors))], manifest)
"""


@pytest.mark.parametrize("point", ["staged", "committed"])
def test_a_crash_while_saving_leaves_one_whole_build(tmp_path, point) -> None:
    first = clustered(3000, seed=5)
    settings = save(tmp_path, build_index(first, Settings(index_factory=FACTORY)), 3000)
    before = load_bundle(settings)
    second = clustered(2000, seed=6)
    np.save(tmp_path / "second.npy", second)
    paths = [str(settings.data_dir), str(tmp_path / "second.npy")]
    args = [sys.executable, "-c", CRASHING_SAVE, point, *paths, FACTORY]
    env = {**os.environ, "PYTHONPATH": str(BACKEND_DIR)}
    assert subprocess.run(args, env=env, timeout=120).returncode == -signal.SIGKILL

    after = load_bundle(settings)  # recovers: the old build whole, or (after the commit point) the new
    if point == "staged":
        assert after.manifest == before.manifest and after.urls == before.urls
        np.testing.assert_array_equal(after.index.reconstruct_n(0, 3000), first)
    else:
        assert after.manifest.index_type == "IndexRefine" and after.urls[0] == "new/0"
        np.testing.assert_array_equal(after.index.reconstruct_n(0, 2000), second)
    save(tmp_path, build_index(first, Settings(index_factory=FACTORY)), 3000)  # and the next save
    assert not list(settings.data_dir.rglob("*.staged"))  # cleans what the crash left

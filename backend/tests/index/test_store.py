import hashlib
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.tiny import tiny_settings

from imagesearch.errors import IndexLoadError
from imagesearch.files import write_bytes_atomic
from imagesearch.index.manifest import Manifest
from imagesearch.index.metadata import Column, MetadataTable
from imagesearch.index.store import build_flat_index, load_bundle, save_bundle
from imagesearch.index.url_list import UrlList


def unit_vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def manifest() -> Manifest:
    return Manifest(encoder_id="e", model="m", pretrained="p", dim=0, count=0, index_type="")


def save(tmp_path: Path, n: int = 5) -> tuple[object, np.ndarray, list[str]]:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    vectors = unit_vectors(n)
    urls = [f"https://img/{i}.jpg" for i in range(n)]
    save_bundle(settings, build_flat_index(vectors), urls, manifest())
    return settings, vectors, urls


def test_round_trip(tmp_path: Path) -> None:
    settings, vectors, urls = save(tmp_path)
    bundle = load_bundle(settings)  # type: ignore[arg-type]
    assert bundle.urls == urls and isinstance(bundle.urls, UrlList)  # packed in RAM
    np.testing.assert_array_equal(bundle.index.reconstruct_n(0, 5), vectors)
    assert bundle.manifest.count == 5 and bundle.manifest.dim == 8
    assert bundle.manifest.index_type == "IndexFlatIP"
    # Inner product on unit vectors is cosine: each vector is its own best match at 1.0.
    scores, ids = bundle.index.search(vectors, 1)
    assert ids[:, 0].tolist() == list(range(5))
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)


def test_files_land_at_the_documented_paths_without_temp_leftovers(tmp_path: Path) -> None:
    save(tmp_path)
    data = tmp_path / "data"
    names = sorted(str(p.relative_to(data)) for p in data.rglob("*") if p.is_file())
    assert names == ["embeddings/image_urls.pkl", "faiss_index/image_index.faiss", "manifest.json"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"old")

    class BoomError(Exception):
        pass

    from imagesearch.files import atomic_path

    with pytest.raises(BoomError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise BoomError
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]
    write_bytes_atomic(target, b"new")
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("victim", ["faiss_index/image_index.faiss", "embeddings/image_urls.pkl"])
def test_tampering_is_detected(tmp_path: Path, victim: str) -> None:
    settings, _, _ = save(tmp_path)
    path = tmp_path / "data" / victim
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexLoadError, match="checksum"):
        load_bundle(settings)  # type: ignore[arg-type]


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    settings, _, _ = save(tmp_path)
    (tmp_path / "data" / "faiss_index" / "image_index.faiss").unlink()
    with pytest.raises(IndexLoadError, match="missing"):
        load_bundle(settings)  # type: ignore[arg-type]
    (tmp_path / "data" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexLoadError, match="not a valid manifest"):
        load_bundle(settings)  # type: ignore[arg-type]


def test_mismatched_counts_are_refused(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    with pytest.raises(ValueError, match="3 vectors but 2 URLs"):
        save_bundle(settings, build_flat_index(unit_vectors(3)), ["a", "b"], manifest())


def test_index_file_is_the_serialised_index_and_its_checksum_verifies(tmp_path: Path) -> None:
    import faiss

    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    index = build_flat_index(unit_vectors(300, dim=16))
    saved = save_bundle(settings, index, [f"u{i}" for i in range(300)], manifest())
    written = settings.index_path.read_bytes()
    assert written == faiss.serialize_index(index).tobytes()
    assert saved.checksums["faiss_index/image_index.faiss"] == hashlib.sha256(written).hexdigest()
    assert load_bundle(settings).index.ntotal == 300  # the checksum check passes


def test_saving_keeps_no_in_memory_copy_of_the_index(tmp_path: Path) -> None:
    # Issue 7: serialising to bytes held the index twice over (a numpy buffer and its bytes
    # copy). Written straight to the file and hashed by streaming, the Python-side peak stays a
    # small fraction of the index (tracemalloc sees numpy's and Python's allocations).
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    index = build_flat_index(unit_vectors(20_000, dim=64))  # 5.1 MB of vectors
    urls = [str(i) for i in range(20_000)]
    index_bytes = index.ntotal * index.d * 4
    tracemalloc.start()
    try:
        save_bundle(settings, index, urls, manifest())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < index_bytes / 4, f"peak {peak} bytes while saving a {index_bytes}-byte index"
    assert settings.index_path.stat().st_size > index_bytes


def metadata_table(n: int) -> MetadataTable:
    return MetadataTable(
        n,
        {
            "photographer": Column.from_values("string", [f"p{i % 2}" if i != 1 else None for i in range(n)]),
            "year": Column.from_values("number", [2000 + i for i in range(n)]),
        },
    )


def test_metadata_is_saved_with_the_index_and_checked_on_load(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    urls = [f"https://img/{i}.jpg" for i in range(4)]
    written = save_bundle(
        settings, build_flat_index(unit_vectors(4)), urls, manifest(), metadata=metadata_table(4)
    )
    assert written.has_metadata and written.metadata_fields == {"photographer": "string", "year": "number"}
    assert "embeddings/metadata.parquet" in written.checksums
    bundle = load_bundle(settings)
    assert [bundle.table.row(i) for i in range(4)] == [
        {"photographer": "p0", "year": 2000},
        {"year": 2001},
        {"photographer": "p0", "year": 2002},
        {"photographer": "p1", "year": 2003},
    ]
    # Another reader (pandas over pyarrow) sees the same rows, in vector order.
    frame = pd.read_parquet(settings.data_dir / "embeddings" / "metadata.parquet")
    assert frame["year"].tolist() == [2000, 2001, 2002, 2003]
    assert frame["photographer"].isna().tolist() == [False, True, False, False]
    # A metadata file from another build does not load.
    other = tiny_settings(tmp_path / "x.pt", tmp_path / "other")
    save_bundle(
        other,
        build_flat_index(unit_vectors(4)),
        urls,
        manifest(),
        metadata=metadata_table(4).take([3, 2, 1, 0]),
    )
    relpath = Path("embeddings") / "metadata.parquet"
    (settings.data_dir / relpath).write_bytes((other.data_dir / relpath).read_bytes())
    with pytest.raises(IndexLoadError, match="checksum"):
        load_bundle(settings)


def test_metadata_rows_must_match_the_vectors(tmp_path: Path) -> None:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    urls = [f"https://img/{i}.jpg" for i in range(4)]
    with pytest.raises(ValueError, match="3 metadata rows for 4 URLs"):
        save_bundle(settings, build_flat_index(unit_vectors(4)), urls, manifest(), metadata=metadata_table(3))
    assert not settings.manifest_path.exists()  # nothing was committed


def test_an_index_without_metadata_has_a_table_without_fields(tmp_path: Path) -> None:
    settings, _, urls = save(tmp_path)
    bundle = load_bundle(settings)  # type: ignore[arg-type]
    assert bundle.metadata is None and bundle.table.rows == len(urls) and bundle.table.fields == {}

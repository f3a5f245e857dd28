"""Incremental indexing: a rerun on a grown and shrunk list fetches only new sources and equals a
fresh build of the same list."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support.imageserver import ImageServer
from support.tiny import tiny_settings

from imagesearch.encoders.protocol import Encoder
from imagesearch.index.store import load_bundle
from imagesearch.index.stored_vectors import enable_reconstruct
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline


@pytest.fixture
def server(image_dir: Path) -> Iterator[ImageServer]:
    srv = ImageServer(image_dir)
    yield srv
    srv.close()


def write_list(path: Path, urls: list[str]) -> Path:
    path.write_text("\n".join(urls) + "\n")
    return path


@pytest.mark.parametrize("factory", ["", "HNSW8,Flat"])
def test_rerun_fetches_only_new_sources_and_equals_a_fresh_build(
    server: ImageServer,
    image_dir: Path,
    tiny_checkpoint: Path,
    tiny_encoder: Encoder,
    tmp_path: Path,
    factory: str,
) -> None:
    names = sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.*"))
    urls = [f"{server.url}/files/{name}" for name in names]
    first, grown = urls[:10], [*urls[2:10], f"{server.url}/missing", *urls[10:16]]
    settings = tiny_settings(
        tiny_checkpoint, tmp_path / "data", batch_size=3, chunk_size=4, index_factory=factory
    )
    run_pipeline(
        settings, PipelineOptions(source=write_list(tmp_path / "a.txt", first), progress=False), tiny_encoder
    )
    server.hits.clear()

    options = PipelineOptions(source=write_list(tmp_path / "b.txt", grown), incremental=True, progress=False)
    report = run_pipeline(settings, options, tiny_encoder)

    # Only the six new images (and the failing one) were fetched; the two removed are gone.
    fetched = {path for path, count in server.hits.items() if count}
    assert fetched == {url.removeprefix(server.url) for url in urls[10:16]} | {"/missing"}
    assert (report.ok, report.failed) == (14, 1)
    fresh = tiny_settings(
        tiny_checkpoint, tmp_path / "fresh", batch_size=5, chunk_size=7, index_factory=factory
    )
    run_pipeline(fresh, PipelineOptions(source=tmp_path / "b.txt", progress=False), tiny_encoder)
    a, b = load_bundle(settings), load_bundle(fresh)
    assert a.urls == b.urls == [*urls[2:10], *urls[10:16]]
    np.testing.assert_allclose(a.index.reconstruct_n(0, 14), b.index.reconstruct_n(0, 14), atol=1e-5)
    assert a.manifest.index_type == b.manifest.index_type


def test_another_encoder_means_encoding_everything(
    server: ImageServer, image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    names = sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.*"))[:4]
    source = write_list(tmp_path / "a.txt", [f"{server.url}/files/{name}" for name in names])
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data")
    run_pipeline(settings, PipelineOptions(source=source, progress=False), tiny_encoder)
    manifest = settings.manifest_path.read_text().replace(tiny_encoder.id, "open_clip:other")
    settings.manifest_path.write_text(manifest)
    server.hits.clear()
    run_pipeline(settings, PipelineOptions(source=source, incremental=True, progress=False), tiny_encoder)
    assert sum(server.hits.values()) == 4


def test_rows_added_at_the_end_are_appended_to_a_trained_index(
    server: ImageServer, image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    """New rows after the old ones (a failing one among them): the IVF index keeps its training
    and gets the new vectors appended (same URLs and vectors as a fresh build of the grown list);
    a run that moves a row builds and trains anew."""
    names = sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.*"))
    urls = [f"{server.url}/files/{name}" for name in names]
    first, grown = urls[:10], [*urls[:10], f"{server.url}/missing", *urls[10:16]]
    settings = tiny_settings(
        tiny_checkpoint, tmp_path / "data", batch_size=3, chunk_size=4, index_factory="IVF1,Flat"
    )
    run_pipeline(
        settings, PipelineOptions(source=write_list(tmp_path / "a.txt", first), progress=False), tiny_encoder
    )
    built = load_bundle(settings).manifest
    assert (built.trained_count, built.appended_recall_at_10) == (10, None)

    options = PipelineOptions(source=write_list(tmp_path / "b.txt", grown), incremental=True, progress=False)
    report = run_pipeline(settings, options, tiny_encoder)
    assert (report.ok, report.failed) == (16, 1)
    appended = load_bundle(settings)
    assert (appended.manifest.count, appended.manifest.trained_count) == (16, 10)
    assert appended.manifest.appended_recall_at_10 == 1.0  # one inverted list: the search is exhaustive
    fresh = tiny_settings(tiny_checkpoint, tmp_path / "fresh", batch_size=5, index_factory="IVF1,Flat")
    run_pipeline(fresh, PipelineOptions(source=tmp_path / "b.txt", progress=False), tiny_encoder)
    rebuilt = load_bundle(fresh)
    assert appended.urls == rebuilt.urls == urls[:16]
    assert appended.table.columns.keys() == rebuilt.table.columns.keys()
    for bundle in (appended, rebuilt):
        enable_reconstruct(bundle.index)
    np.testing.assert_allclose(
        appended.index.reconstruct_n(0, 16), rebuilt.index.reconstruct_n(0, 16), atol=1e-5
    )

    moved = [urls[1], urls[0], *urls[2:16]]
    options = PipelineOptions(source=write_list(tmp_path / "c.txt", moved), incremental=True, progress=False)
    run_pipeline(settings, options, tiny_encoder)
    again = load_bundle(settings).manifest
    assert (again.count, again.trained_count, again.appended_recall_at_10) == (16, 16, None)

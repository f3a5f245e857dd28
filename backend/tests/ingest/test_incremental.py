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

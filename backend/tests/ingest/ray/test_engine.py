"""The Ray engine on a real local Ray cluster: same index as the local engine, resume, CLI, refusals."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from support.paths import BACKEND_DIR
from support.tiny import settings_env, tiny_settings
from support.weights import save_random_checkpoint

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import EncoderUnavailableError
from imagesearch.index.store import load_bundle
from imagesearch.ingest.pipeline import PipelineOptions, StageTimes, run_pipeline

ray = pytest.importorskip("ray")

from imagesearch.ingest.checkpoints import MERGED_VECTORS_NAME  # noqa: E402
from imagesearch.ingest.cli import parse_args  # noqa: E402
from imagesearch.ingest.ray.engine import embed_with_ray  # noqa: E402

# Small batches so that the 12 sources span several Ray blocks, encoder batches and shards.
SMALL = {"batch_size": 3, "ray_batch_size": 2, "chunk_size": 4}
TWO_STAGE = "IVF1,SQ8,RFlat"


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A local Ray cluster for this module; yields its address for other drivers to join."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        logging_level="WARNING",
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def source(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 real images, one truncated file and one missing file, interleaved."""
    folder = tmp_path_factory.mktemp("ray-source")
    good = [str(path) for path in sorted(image_dir.rglob("*.*"))[:10]]
    truncated = folder / "truncated.jpg"
    truncated.write_bytes(Path(good[0]).read_bytes()[:300])
    lines = [*good[:3], str(truncated), *good[3:7], str(folder / "missing.jpg"), *good[7:]]
    listing = folder / "list.txt"
    listing.write_text("\n".join(lines) + "\n")
    return listing


def test_ray_engine_builds_the_same_index_as_the_local_engine_and_resumes(
    cluster: str,
    source: Path,
    tiny_checkpoint: Path,
    tiny_encoder: Encoder,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # With OCR on: the Ray workers read the text as the local engine does (same engine, same facts).
    # On Ray a two-stage index: the shards' vectors are merged on disk into its vectors file.
    local = tiny_settings(tiny_checkpoint, tmp_path / "local", ocr=True, **SMALL)
    on_ray = tiny_settings(tiny_checkpoint, tmp_path / "ray", ocr=True, index_factory=TWO_STAGE, **SMALL)
    local_report = run_pipeline(local, PipelineOptions(source=source, progress=False), tiny_encoder)
    ocr_id = local_report.manifest.ocr_engine
    assert ocr_id.startswith("rapidocr")

    # First the engine alone, which leaves its shards on disk as a killed run would ...
    todo = source.read_text().split()
    options = PipelineOptions(source=source, progress=False, engine="ray")
    vectors, positions, failures, facts = embed_with_ray(
        on_ray, tiny_encoder, todo, options, StageTimes(), ocr_id
    )
    assert positions.tolist() == [0, 1, 2, 4, 5, 6, 7, 9, 10, 11]
    assert isinstance(vectors, np.memmap)  # the merged vectors file, mapped
    assert failures == [(position, error) for position, _, error in local_report.failures]
    np.testing.assert_allclose(vectors, load_bundle(local).index.reconstruct_n(0, 10), atol=1e-5)
    shards = sorted(on_ray.work_dir.rglob("shard-*.npz"))
    assert len(shards) >= 3  # chunk_size 4: the 12 rows come back in several shards
    # ... then lose all shards but one: the pipeline embeds only the missing rows again.
    kept = len(np.load(shards[0])["position"])
    for shard in shards[1:]:
        shard.unlink()
    with caplog.at_level(logging.INFO, logger="imagesearch.ingest.ray.engine"):
        ray_report = run_pipeline(on_ray, options, tiny_encoder)
    assert f"resuming: {kept} of 12 images" in caplog.text

    assert (ray_report.ok, ray_report.failed) == (local_report.ok, local_report.failed) == (10, 2)
    assert ray_report.failures == local_report.failures
    assert [error.split(":")[0] for _, _, error in ray_report.failures] == ["InvalidImageError", "FetchError"]
    assert on_ray.failures_path.read_text() == local.failures_path.read_text()
    a, b = load_bundle(local), load_bundle(on_ray)
    assert a.urls == b.urls and len(a.urls) == 10
    np.testing.assert_allclose(b.index.reconstruct_n(0, 10), a.index.reconstruct_n(0, 10), atol=1e-5)
    assert b.manifest.encoder_id == a.manifest.encoder_id and b.manifest.count == 10
    # The image facts travel with the rows: the same metadata, row for row.
    assert facts.rows == 10 and {"width", "height", "has_text"} <= set(b.table.fields)
    assert b.manifest.ocr_engine == ocr_id and ray_report.stages.ocr > 0
    assert [b.table.row(i) for i in range(10)] == [a.table.row(i) for i in range(10)]
    assert ray_report.stages.encode > 0 and ray_report.stages.fetch_decode > 0
    assert not on_ray.work_dir.exists()  # shards are removed once the index is saved
    assert b.manifest.index_factory == TWO_STAGE and b.manifest.vectors_file
    assert not (on_ray.vectors_path.parent / MERGED_VECTORS_NAME).exists()  # the commit took it
    assert ray.is_initialized()  # a Ray the engine did not start is left running


def test_workers_refuse_weights_that_differ_from_the_driver(
    cluster: str, source: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    other = tiny_settings(tiny_checkpoint, tmp_path / "data")
    other = other.model_copy(
        update={"pretrained": str(save_random_checkpoint(other, tmp_path / "other.pt", seed=1))}
    )
    options = PipelineOptions(source=source, progress=False, engine="ray")
    with pytest.raises(EncoderUnavailableError, match="same weights"):
        run_pipeline(other, options, tiny_encoder)  # the driver's encoder is the seed-0 one


def test_cli_engine_flags() -> None:
    args = parse_args(["photos.csv", "--engine", "ray", "--ray-address", "ray://head:10001"])
    assert (args.engine, args.ray_address) == ("ray", "ray://head:10001")
    args = parse_args(["photos.csv"])
    assert (args.engine, args.ray_address) == ("local", None)
    with pytest.raises(SystemExit):
        parse_args(["photos.csv", "--engine", "spark"])


def test_cli_joins_a_running_cluster(
    cluster: str, source: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    """``run_pipeline.py --engine ray --ray-address ADDR`` as a second driver on the cluster."""
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data")
    process = subprocess.run(
        [
            sys.executable,
            str(BACKEND_DIR / "run_pipeline.py"),
            str(source),
            "--quiet",
            "--engine",
            "ray",
            "--ray-address",
            cluster,
        ],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "10 images indexed, 2 failed (of 12)" in process.stderr
    bundle = load_bundle(settings)
    assert bundle.urls == [line for n, line in enumerate(source.read_text().split()) if n not in (3, 8)]

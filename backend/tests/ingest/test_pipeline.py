"""The pipeline on real files and a real HTTP server: alignment, failures, resume."""

import csv
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import faiss
import numpy as np
import pytest
from PIL import Image
from support.imageserver import ImageServer
from support.paths import BACKEND_DIR
from support.pipeline_cli import pipeline_process
from support.tiny import BuiltIndex, settings_env, tiny_settings

from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import SourceError
from imagesearch.images import decode_image
from imagesearch.index.store import load_bundle
from imagesearch.ingest.checkpoints import MERGED_VECTORS_NAME
from imagesearch.ingest.fetch import Fetcher
from imagesearch.ingest.local_engine import embed_local
from imagesearch.ingest.metadata import MetadataOptions
from imagesearch.ingest.pipeline import PipelineOptions, StageTimes, run_pipeline


@pytest.fixture
def server(image_dir: Path) -> Iterator[ImageServer]:
    srv = ImageServer(image_dir)
    yield srv
    srv.close()


def reencode_each(encoder: Encoder, sources: list[str], settings_path: Path) -> np.ndarray:
    """Independent check: fetch and encode every stored source alone (batch of one)."""
    settings = tiny_settings(settings_path, settings_path.parent)
    fetcher = Fetcher(settings)
    try:
        images = [decode_image(fetcher.fetch(source), settings.max_image_pixels) for source in sources]
    finally:
        fetcher.close()
    return np.concatenate([encoder.encode_images([image]) for image in images])


def test_failures_never_shift_alignment(
    server: ImageServer, image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    good = sorted(image_dir.rglob("*.*"))[:10]
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good[0].read_bytes()[:300])
    rows = []
    for i, path in enumerate(good):
        via_http = i % 2 == 0
        rows.append(f"{server.url}/files/{path.relative_to(image_dir)}" if via_http else str(path))
        # After every good image, one that fails in a different way.
        rows.append(
            [
                f"{server.url}/missing",
                f"{server.url}/text",
                str(truncated),
                str(tmp_path / "gone.jpg"),
                f"{server.url}/huge",
            ][i % 5]
        )
    source = tmp_path / "photos_url.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "photo_image_url"])
        writer.writerows([[n, url] for n, url in enumerate(rows)])
    settings = tiny_settings(
        tiny_checkpoint, tmp_path / "data", batch_size=3, chunk_size=7, max_image_bytes=5_000_000
    )

    report = run_pipeline(settings, PipelineOptions(source=source, progress=False), tiny_encoder)

    assert (report.ok, report.failed) == (10, 10)
    bundle = load_bundle(settings)
    expected = [row for n, row in enumerate(rows) if n % 2 == 0]
    assert bundle.urls == expected
    stored = bundle.index.reconstruct_n(0, bundle.index.ntotal)
    independent = reencode_each(tiny_encoder, bundle.urls, tiny_checkpoint)
    # Each stored vector is its own image's vector, and closer to it than to any other image.
    np.testing.assert_allclose(stored, independent, atol=1e-4)
    assert (np.argmax(stored @ independent.T, axis=1) == np.arange(10)).all()
    with settings.failures_path.open() as handle:
        failures = list(csv.DictReader(handle))
    assert [row["source"] for row in failures] == [row for n, row in enumerate(rows) if n % 2 == 1]
    assert all(row["error"] for row in failures)
    assert not settings.work_dir.exists()


def test_report_and_manifest(built_index: BuiltIndex) -> None:
    report = built_index.report
    assert report.ok == report.total == 24 and report.failed == 0
    manifest = report.manifest
    assert manifest.count == 24 and manifest.dim == 64 and manifest.index_type == "IndexFlatIP"
    assert manifest.encoder_id.startswith("open_clip:test-tiny-clip:sha256-")
    assert set(manifest.checksums) == {
        "faiss_index/image_index.faiss",
        "embeddings/image_urls.pkl",
        "embeddings/metadata.parquet",
    }
    bundle = load_bundle(built_index.settings)
    norms = np.linalg.norm(bundle.index.reconstruct_n(0, 24), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)
    # A folder's images get their facts: size as PIL reads it, bytes and date as the file system says.
    assert manifest.metadata_fields == {
        "width": "number",
        "height": "number",
        "file_modified": "datetime",
        "file_size": "number",
    }
    for row, url in enumerate(bundle.urls):
        path, facts = Path(url), bundle.table.row(row)
        with Image.open(path) as image:
            assert (facts["width"], facts["height"]) == image.size
        assert facts["file_size"] == path.stat().st_size
        modified = datetime.fromisoformat(str(facts["file_modified"]).replace("Z", "+00:00"))
        assert abs(modified.timestamp() - path.stat().st_mtime) < 0.001
    assert "24 images indexed" in report.summary()


def test_nothing_readable_is_an_error(tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'a.jpg'}\n{tmp_path / 'b.jpg'}\n")
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data")
    with pytest.raises(SourceError, match="none of the 2 images"):
        run_pipeline(settings, PipelineOptions(source=listing, progress=False), tiny_encoder)
    assert not settings.index_path.exists()


def run_cli(settings_env_: dict[str, str], source: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(BACKEND_DIR / "run_pipeline.py"), str(source), "--quiet", *args],
        env=settings_env_,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_kill_9_then_rerun_resumes_to_the_same_index(
    image_dir: Path, tiny_checkpoint: Path, tmp_path: Path, built_index: BuiltIndex
) -> None:
    # A previous index exists; the interrupted rebuild must leave it intact.
    resumed = tiny_settings(tiny_checkpoint, tmp_path / "resumed", chunk_size=4, batch_size=2)
    clean = tiny_settings(tiny_checkpoint, tmp_path / "clean", chunk_size=4, batch_size=2)
    env = settings_env(resumed)
    first = run_cli(env, image_dir)
    assert first.wait(timeout=120) == 0
    before = load_bundle(resumed)

    # A full rebuild (reruns are incremental by default and would reuse every vector), SIGKILLed
    # by tests/support/crashpoint.py when its 8th encoder call starts. A chunk of 4 images makes 3 calls
    # (two batches of 2, then the empty remainder) and is saved after the last, so exactly 2 of
    # the 6 chunks are on disk, deterministically (a kill timed from outside raced the run).
    killed = pipeline_process(env, image_dir, "--no-resume", "--no-incremental", crash=("encode", 7))
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    done_before_rerun = len(list(resumed.work_dir.rglob("chunk-*.npz")))
    assert done_before_rerun == 2
    still = load_bundle(resumed)  # previous index still loadable and unchanged
    assert still.urls == before.urls and still.manifest == before.manifest

    rerun = run_cli(env, image_dir, "--no-incremental")
    output = rerun.communicate(timeout=120)[0].decode()
    assert rerun.returncode == 0, output
    assert f"resuming: {done_before_rerun} of 6 chunks" in output
    assert run_cli(settings_env(clean), image_dir).wait(timeout=120) == 0

    a, b = load_bundle(resumed), load_bundle(clean)
    assert a.urls == b.urls
    np.testing.assert_allclose(a.index.reconstruct_n(0, 24), b.index.reconstruct_n(0, 24), atol=1e-6)


def test_cli_reruns_are_incremental_by_default(
    image_dir: Path, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    files = sorted(str(p) for p in image_dir.rglob("*.*"))
    listing = tmp_path / "list.txt"
    env = settings_env(tiny_settings(tiny_checkpoint, tmp_path / "data"))
    listing.write_text("\n".join(files[:4]))
    assert run_cli(env, listing).wait(timeout=120) == 0
    listing.write_text("\n".join(files[1:7]))  # one dropped, three added
    rerun = run_cli(env, listing)
    output = rerun.communicate(timeout=120)[0].decode()
    assert rerun.returncode == 0, output
    assert "reusing 3 vectors, encoding 3 new sources, dropping 1" in output
    full = run_cli(env, listing, "--no-incremental")
    output = full.communicate(timeout=120)[0].decode()
    assert full.returncode == 0 and "reusing" not in output, output
    assert load_bundle(tiny_settings(tiny_checkpoint, tmp_path / "data")).urls == files[1:7]


def test_cli_reports_systemic_errors_without_a_traceback(tiny_checkpoint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    process = run_cli(settings_env(tiny_settings(tiny_checkpoint, tmp_path / "d")), bad)
    output = process.communicate(timeout=120)[0].decode()
    assert process.returncode == 1
    assert "no URL column found" in output and "Traceback" not in output


def test_metadata_cells_that_do_not_fit_are_reported_and_never_shift_rows(
    image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    paths = sorted(image_dir.rglob("*.*"))[:6]
    rows = [[str(path), str(2000 + i), "t" if i % 2 else "f"] for i, path in enumerate(paths)]
    rows[2][1] = "about 2002"  # not a number
    rows.insert(4, [str(tmp_path / "gone.jpg"), "1999", "t"])  # an image that fails
    source = tmp_path / "photos.csv"
    source.write_text("path,year,featured\n" + "".join(",".join(row) + "\n" for row in rows))
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data", batch_size=2)
    options = PipelineOptions(
        source=source,
        progress=False,
        metadata=MetadataOptions(types={"year": "number", "featured": "boolean"}),
    )

    report = run_pipeline(settings, options, tiny_encoder)

    assert (report.ok, report.failed, report.metadata_problems) == (6, 1, 1)
    assert "1 metadata cells unreadable" in report.summary()
    with (settings.data_dir / "metadata_problems.csv").open() as handle:
        problems = list(csv.DictReader(handle))
    assert [(p["row"], p["column"], p["value"]) for p in problems] == [("2", "year", "about 2002")]
    bundle = load_bundle(settings)
    expected = [row for row in rows if "gone" not in row[0]]
    assert bundle.urls == [row[0] for row in expected]
    for i, row in enumerate(expected):
        metadata = bundle.table.row(i)
        assert metadata.get("year") == (None if row[1] == "about 2002" else int(row[1]))
        assert metadata["featured"] == (row[2] == "t")


def test_a_two_stage_index_is_built_from_vectors_merged_on_disk(
    image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    """For a two-stage index the engine merges its checkpoints' vectors straight into the vectors
    file the commit takes (never all in RAM): byte for byte the file FAISS writes for the vectors
    of the same run built in RAM, with the failures left out; nothing is left beside it."""
    images = [str(path) for path in sorted(image_dir.rglob("*.*"))[:9]]
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join([*images[:4], str(tmp_path / "missing.jpg"), *images[4:]]) + "\n")
    in_ram = tiny_settings(tiny_checkpoint, tmp_path / "ram", batch_size=3, chunk_size=4)
    run_pipeline(in_ram, PipelineOptions(source=listing, progress=False), tiny_encoder)
    flat = faiss.IndexFlatIP(tiny_encoder.dim)
    flat.add(load_bundle(in_ram).index.reconstruct_n(0, 9))
    faiss.write_index(flat, str(tmp_path / "by-faiss.faiss"))

    two = tiny_settings(
        tiny_checkpoint, tmp_path / "two", batch_size=3, chunk_size=4, index_factory="IVF1,SQ8,RFlat"
    )
    todo = listing.read_text().split()
    embedded = embed_local(two, tiny_encoder, todo, PipelineOptions(source=listing), StageTimes(), None)[0]
    merged = two.vectors_path.parent / MERGED_VECTORS_NAME
    assert isinstance(embedded.vectors, np.memmap) and embedded.positions.tolist() == [
        0,
        1,
        2,
        3,
        5,
        6,
        7,
        8,
        9,
    ]
    assert merged.read_bytes() == (tmp_path / "by-faiss.faiss").read_bytes()

    report = run_pipeline(two, PipelineOptions(source=listing, progress=False), tiny_encoder)  # resumes
    assert (report.ok, report.failed, report.manifest.index_factory) == (9, 1, "IVF1,SQ8,RFlat")
    assert two.vectors_path.read_bytes() == (tmp_path / "by-faiss.faiss").read_bytes()
    assert not merged.exists()
    bundle = load_bundle(two)
    assert bundle.urls == load_bundle(in_ram).urls
    queries = flat.reconstruct_n(0, 9)
    np.testing.assert_array_equal(bundle.index.search(queries, 3)[1], flat.search(queries, 3)[1])

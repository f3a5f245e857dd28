"""Captions stored beside the vectors: detection, alignment through failures and incremental
builds, the atomic commit, and checked loads."""

import csv
import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.imageserver import ImageServer
from support.pipeline_cli import pipeline_process
from support.tiny import settings_env, tiny_settings

from imagesearch.config import Settings
from imagesearch.encoders.protocol import Encoder
from imagesearch.errors import IndexLoadError, SourceError
from imagesearch.index.manifest import Manifest
from imagesearch.index.store import IndexBundle, build_flat_index, load_bundle, save_bundle
from imagesearch.ingest.pipeline import PipelineOptions, run_pipeline
from imagesearch.ingest.sources import read_records

CAPTIONS_FILE = "embeddings/captions.json"


@pytest.fixture
def server(image_dir: Path) -> Iterator[ImageServer]:
    srv = ImageServer(image_dir)
    yield srv
    srv.close()


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def assert_aligned(bundle: IndexBundle, caption_of: dict[str, str]) -> None:
    assert bundle.captions is not None
    assert len(bundle.captions) == len(bundle.urls) == bundle.index.ntotal
    assert bundle.captions == [caption_of[url] for url in bundle.urls]


# --- detection (sources.read_records) -------------------------------------------------------


def test_unsplash_description_columns_are_detected_and_joined(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "photos_url.csv",
        ["photo_id", "photo_image_url", "photo_description", "ai_description"],
        [
            ["1", "https://x/1.jpg", "Sunset  over the\nsea", "orange sky"],
            ["2", "https://x/2.jpg", "", "a dog on grass"],
            ["3", "https://x/3.jpg", "", ""],
        ],
    )
    records = read_records(source)
    assert records.urls == ["https://x/1.jpg", "https://x/2.jpg", "https://x/3.jpg"]
    assert records.captions == ["Sunset over the sea — orange sky", "a dog on grass", ""]
    assert records.caption_columns == ("photo_description", "ai_description")
    assert records.head(2).captions == records.captions[:2]
    assert records.captions_at([2, 0]) == ["", "Sunset over the sea — orange sky"]


def test_caption_column_flag_overrides_detection(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "list.csv", ["url", "caption", "notes", "Tags"], [["a.jpg", "A cat.", "indoor", "pet"]]
    )
    assert read_records(source).captions == ["A cat."]
    assert read_records(source, caption_columns=["Tags", "notes"]).captions == ["pet — indoor"]
    with pytest.raises(SourceError, match="no column 'nope'"):
        read_records(source, caption_columns=["nope"])


def test_no_caption_columns_means_no_captions(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "plain.csv", ["photo_id", "photo_image_url"], [["1", "https://x/1.jpg"]])
    empty = write_csv(tmp_path / "empty.csv", ["url", "caption"], [["https://x/1.jpg", " "]])
    listing = tmp_path / "list.txt"
    listing.write_text("https://x/1.jpg\n")
    for source in (plain, empty, listing):
        assert read_records(source).captions is None
    with pytest.raises(SourceError, match="needs a CSV"):
        read_records(listing, caption_columns=["caption"])


# --- the pipeline keeps captions[i] with vector i --------------------------------------------


def test_captions_stay_aligned_when_images_fail(
    server: ImageServer, image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    good = sorted(image_dir.rglob("*.*"))[:8]
    broken = [f"{server.url}/missing", f"{server.url}/text", str(tmp_path / "gone.jpg"), f"{server.url}/huge"]
    rows: list[list[str]] = []
    for i, path in enumerate(good):
        url = f"{server.url}/files/{path.relative_to(image_dir)}" if i % 2 else str(path)
        rows.append([url, f"good image {i}", f"label {i}"])
        if i % 2 == 0:  # a failing image after every other good one
            rows.append([broken[(i // 2) % 4], f"broken image {i}", "x"])
    source = write_csv(tmp_path / "photos.csv", ["image_url", "caption", "label"], rows)
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data", batch_size=3, chunk_size=5)

    report = run_pipeline(settings, PipelineOptions(source=source, progress=False), tiny_encoder)

    assert (report.ok, report.failed) == (8, 4)
    bundle = load_bundle(settings)
    assert bundle.urls == [row[0] for row in rows if row[1].startswith("good")]
    assert_aligned(bundle, {row[0]: row[1] for row in rows})
    assert bundle.captions == [f"good image {i}" for i in range(8)]
    assert bundle.manifest.has_captions and bundle.manifest.caption_columns == ["caption"]
    assert CAPTIONS_FILE in bundle.manifest.checksums
    # The CSV's other columns and each image's own size stay with it through the failures too.
    assert [bundle.table.row(i)["label"] for i in range(8)] == [f"label {i}" for i in range(8)]
    for i, path in enumerate(good):
        with Image.open(path) as image:
            assert (bundle.table.row(i)["width"], bundle.table.row(i)["height"]) == image.size


def test_incremental_build_keeps_captions_aligned_and_equals_a_fresh_build(
    server: ImageServer, image_dir: Path, tiny_checkpoint: Path, tiny_encoder: Encoder, tmp_path: Path
) -> None:
    names = sorted(str(p.relative_to(image_dir)) for p in image_dir.rglob("*.*"))
    urls = [f"{server.url}/files/{name}" for name in names]
    first = write_csv(
        tmp_path / "a.csv", ["url", "caption"], [[u, f"old {i}"] for i, u in enumerate(urls[:10])]
    )
    # Grown and shrunk: two removed, six added, one failing, and every caption edited.
    grown_rows = [[u, f"new {i}"] for i, u in enumerate(urls[2:10])]
    grown_rows += [[f"{server.url}/missing", "never stored"]]
    grown_rows += [[u, f"added {i}"] for i, u in enumerate(urls[10:16])]
    grown = write_csv(tmp_path / "b.csv", ["url", "caption"], grown_rows)
    settings = tiny_settings(tiny_checkpoint, tmp_path / "data", batch_size=3, chunk_size=4)
    run_pipeline(settings, PipelineOptions(source=first, progress=False), tiny_encoder)
    server.hits.clear()

    report = run_pipeline(
        settings, PipelineOptions(source=grown, incremental=True, progress=False), tiny_encoder
    )

    assert (report.ok, report.failed) == (14, 1)
    assert sum(server.hits[u.removeprefix(server.url)] for u in urls[2:10]) == 0  # vectors reused
    fresh = tiny_settings(tiny_checkpoint, tmp_path / "fresh", batch_size=5, chunk_size=7)
    run_pipeline(fresh, PipelineOptions(source=grown, progress=False), tiny_encoder)
    a, b = load_bundle(settings), load_bundle(fresh)
    assert_aligned(a, {row[0]: row[1] for row in grown_rows})
    assert a.urls == b.urls and a.captions == b.captions
    np.testing.assert_allclose(a.index.reconstruct_n(0, 14), b.index.reconstruct_n(0, 14), atol=1e-5)
    # Metadata too: reused images keep their facts, every row has the current CSV's values.
    assert a.table.fields == b.table.fields and {"caption", "width", "height"} <= set(a.table.fields)
    assert [a.table.row(i) for i in range(14)] == [b.table.row(i) for i in range(14)]

    # Shrinking to a list without captions drops them: the manifest says there are none.
    shrunk = tmp_path / "c.txt"
    shrunk.write_text("\n".join(urls[3:6]) + "\n")
    run_pipeline(settings, PipelineOptions(source=shrunk, incremental=True, progress=False), tiny_encoder)
    after = load_bundle(settings)
    assert after.urls == urls[3:6] and after.captions is None
    assert (settings.data_dir / CAPTIONS_FILE).is_file()  # stale file, ignored


# --- storage: one commit, checked at load ----------------------------------------------------


def manifest() -> Manifest:
    return Manifest(encoder_id="e", model="m", pretrained="p", dim=0, count=0, index_type="")


def save(tmp_path: Path, captions: list[str] | None, n: int = 4) -> Settings:
    settings = tiny_settings(tmp_path / "x.pt", tmp_path / "data")
    vectors = np.eye(n, 8, dtype=np.float32)
    save_bundle(settings, build_flat_index(vectors), [f"u{i}" for i in range(n)], manifest(), captions)
    return settings


def test_captions_round_trip_as_json(tmp_path: Path) -> None:
    captions = ["Ein Hund — a dog", "", 'quote " and \\ slash', "émoji 🐕"]
    settings = save(tmp_path, captions)
    assert json.loads((settings.data_dir / CAPTIONS_FILE).read_text(encoding="utf-8")) == captions
    bundle = load_bundle(settings)
    assert bundle.captions == captions and bundle.manifest.has_captions
    names = sorted(str(p.relative_to(settings.data_dir)) for p in settings.data_dir.rglob("*") if p.is_file())
    assert names == [
        CAPTIONS_FILE,
        "embeddings/image_urls.pkl",
        "faiss_index/image_index.faiss",
        "manifest.json",
    ]


def test_without_captions_no_file_and_none(tmp_path: Path) -> None:
    settings = save(tmp_path, None)
    assert not (settings.data_dir / CAPTIONS_FILE).exists()
    bundle = load_bundle(settings)
    assert bundle.captions is None and not bundle.manifest.has_captions
    assert CAPTIONS_FILE not in bundle.manifest.checksums


def test_a_stale_captions_file_is_ignored(tmp_path: Path) -> None:
    save(tmp_path, ["a", "b", "c", "d"])
    settings = save(tmp_path, None, n=3)
    assert (settings.data_dir / CAPTIONS_FILE).is_file()
    bundle = load_bundle(settings)
    assert bundle.captions is None and bundle.manifest.count == 3


def test_a_manifest_from_before_captions_loads(tmp_path: Path) -> None:
    settings = save(tmp_path, None)
    raw = json.loads(settings.manifest_path.read_text())
    del raw["has_captions"], raw["caption_columns"]
    settings.manifest_path.write_text(json.dumps(raw))
    assert load_bundle(settings).captions is None


def test_tampered_captions_are_refused(tmp_path: Path) -> None:
    settings = save(tmp_path, ["a dog", "a cat", "a cow", "a fox"])
    path = settings.data_dir / CAPTIONS_FILE
    path.write_text(json.dumps(["a cat", "a dog", "a cow", "a fox"]))
    with pytest.raises(IndexLoadError, match="checksum"):
        load_bundle(settings)
    unchecked = settings.model_copy(update={"verify_checksums": False})
    path.write_text(json.dumps(["a dog", "a cat"]))
    with pytest.raises(IndexLoadError, match="out of step"):
        load_bundle(unchecked)
    path.write_text('{"0": "a dog"}')
    with pytest.raises(IndexLoadError, match="list of str"):
        load_bundle(unchecked)
    path.unlink()
    with pytest.raises(IndexLoadError, match="missing"):
        load_bundle(settings)


def test_captions_must_match_the_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 captions for 4 URLs"):
        save(tmp_path, ["a", "b", "c"])
    assert not (tmp_path / "data" / "manifest.json").exists()
    assert [p for p in (tmp_path / "data").rglob("*") if p.is_file()] == []


# --- the CLI flag and crash safety with captions ---------------------------------------------


def run_cli(settings: Settings, source: Path, crash: tuple[str, int] | None = None) -> int:
    args = ("--caption-column", "what", "--caption-column", "where")
    return pipeline_process(settings_env(settings), source, *args, crash=crash).returncode


@pytest.fixture(scope="module")
def caption_sources(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("captioned")
    images = sorted(str(p) for p in image_dir.rglob("*.*"))
    header = ["path", "what", "where", "caption"]
    old = write_csv(
        folder / "old.csv", header, [[p, f"old {i}", "", "ignored"] for i, p in enumerate(images[:5])]
    )
    new = write_csv(
        folder / "new.csv", header, [[p, f"new {i}", "here", "x"] for i, p in enumerate(images[:9])]
    )
    return old, new


@pytest.fixture(scope="module")
def previous_with_captions(
    caption_sources: tuple[Path, Path], tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("prev"), chunk_size=4, batch_size=2)
    assert run_cli(settings, caption_sources[0]) == 0
    return settings.data_dir


@pytest.mark.parametrize(
    ("point", "after", "survivor"),
    [
        ("stage", 2, "previous"),  # URL list and captions staged, index not yet
        ("commit", 0, "new"),  # after the commit point, one file renamed
    ],
)
def test_kill_9_keeps_captions_with_their_build(
    point: str,
    after: int,
    survivor: str,
    caption_sources: tuple[Path, Path],
    previous_with_captions: Path,
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    data = shutil.copytree(previous_with_captions, tmp_path / "data")
    settings = tiny_settings(tiny_checkpoint, data, chunk_size=4, batch_size=2)
    previous = load_bundle(settings)
    assert previous.captions == [f"old {i}" for i in range(5)]  # the flag's columns, not "caption"

    assert run_cli(settings, caption_sources[1], crash=(point, after)) == -signal.SIGKILL

    bundle = load_bundle(settings)
    expected = previous.captions if survivor == "previous" else [f"new {i} — here" for i in range(9)]
    assert bundle.captions == expected and len(bundle.urls) == len(expected)
    assert run_cli(settings, caption_sources[1]) == 0
    assert load_bundle(settings).captions == [f"new {i} — here" for i in range(9)]
    leftovers = [p.name for p in data.rglob("*") if p.name.endswith((".staged", ".tmp"))]
    assert leftovers == []

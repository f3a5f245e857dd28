"""SIGKILL the pipeline during fetching, encoding and the final write: the data stays whole."""

import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
from support.pipeline_cli import pipeline_process
from support.tiny import settings_env, tiny_settings

from imagesearch.config import Settings
from imagesearch.index.store import IndexBundle, load_bundle


def run(settings: Settings, source: Path, crash: tuple[str, int] | None = None) -> int:
    return pipeline_process(settings_env(settings), source, crash=crash).returncode


def same(a: IndexBundle, b: IndexBundle) -> bool:
    if a.urls != b.urls:
        return False
    return bool(
        np.allclose(a.index.reconstruct_n(0, a.index.ntotal), b.index.reconstruct_n(0, b.index.ntotal))
    )


@pytest.fixture(scope="module")
def sources(image_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small earlier collection (the 'previous index') and the grown one being rebuilt."""
    folder = tmp_path_factory.mktemp("lists")
    everything = sorted(str(p) for p in image_dir.rglob("*.*"))
    previous, grown = folder / "previous.txt", folder / "grown.txt"
    previous.write_text("\n".join(everything[:6]))
    grown.write_text("\n".join(everything[:14]))
    return previous, grown


@pytest.fixture(scope="module")
def previous_dir(
    sources: tuple[Path, Path], tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    settings = tiny_settings(tiny_checkpoint, tmp_path_factory.mktemp("previous"), chunk_size=4, batch_size=2)
    assert run(settings, sources[0]) == 0
    return settings.data_dir


@pytest.fixture(scope="module")
def reference(
    sources: tuple[Path, Path], tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
) -> IndexBundle:
    settings = tiny_settings(
        tiny_checkpoint, tmp_path_factory.mktemp("reference"), chunk_size=4, batch_size=2
    )
    assert run(settings, sources[1]) == 0
    return load_bundle(settings)


@pytest.mark.parametrize(
    ("point", "after", "survivor"),
    [
        ("fetch", 5, "previous"),  # mid-fetching, first chunk done
        ("encode", 3, "previous"),  # mid-encoding of the second chunk
        ("stage", 1, "previous"),  # final write, URL list staged, index not yet
        ("stage", 2, "previous"),  # final write, before the manifest is staged
        ("commit", 0, "new"),  # final write, after the commit point, one file renamed
    ],
)
def test_kill_9_leaves_a_whole_index_and_rerun_matches(
    point: str,
    after: int,
    survivor: str,
    sources: tuple[Path, Path],
    previous_dir: Path,
    reference: IndexBundle,
    tiny_checkpoint: Path,
    tmp_path: Path,
) -> None:
    grown_source = sources[1]
    settings = tiny_settings(
        tiny_checkpoint, shutil.copytree(previous_dir, tmp_path / "data"), chunk_size=4, batch_size=2
    )
    previous = load_bundle(settings)

    assert run(settings, grown_source, crash=(point, after)) == -signal.SIGKILL

    after_crash = load_bundle(settings)  # loadable, checksums verified
    if survivor == "previous":
        assert same(after_crash, previous) and after_crash.manifest == previous.manifest
    else:
        assert same(after_crash, reference)  # the committed write was rolled forward
    assert run(settings, grown_source) == 0
    assert same(load_bundle(settings), reference)
    leftovers = [p.name for p in settings.data_dir.rglob("*") if p.name.endswith((".staged", ".tmp"))]
    assert leftovers == [] and not (settings.data_dir / ".commit-journal.json").exists()

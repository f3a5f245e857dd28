"""The re-indexing notebook: stored clean, and executed end to end with nbclient.

The run injects a parameters cell after the one tagged ``parameters`` (papermill's convention),
so the notebook runs exactly as a user runs it: its install cell really pip-installs the backend
from this repository (into a scratch ``--target`` folder put first on the kernel's path, so the
developer's environment is left alone), and every later cell imports that installed copy. The
archive it writes is then unzipped into an empty folder and served by the real API.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from support.images import write_images
from support.paths import BACKEND_DIR, TINY_CONFIG, TINY_MODEL
from support.servers import serving
from support.tiny import tiny_settings

from imagesearch.config import Settings
from imagesearch.errors import IndexLoadError
from imagesearch.index.manifest import CAPTIONS_RELPATH, Manifest
from imagesearch.index.store import build_flat_index, bundle_files, save_bundle
from imagesearch.ingest.sources import CAPTION_SEPARATOR

NOTEBOOK = BACKEND_DIR.parent / "clip_embedding_generation.ipynb"
PARAMETERS = ("SOURCE", "URL_COLUMN", "LIMIT", "DATA_DIR", "MODEL", "PRETRAINED", "REPO")
MISSING_MESSAGE = "Cannot install the imagesearch backend: REPO is not set"


def read_notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def parameters_position(notebook: nbformat.NotebookNode) -> int:
    return next(i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", []))


def parameters_cell(values: dict[str, Any]) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value!r}" for name, value in values.items()),
        metadata={"tags": ["injected-parameters"]},
    )


def kernel_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    return env | extra


def execute(notebook: nbformat.NotebookNode, cwd: Path, env: dict[str, str], log: Path) -> str:
    """Run every cell in a fresh kernel started in ``cwd``; return the text the cells printed."""
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    )
    try:
        client.execute(env=env)  # raises CellExecutionError naming the cell if any cell fails
    finally:
        nbformat.write(notebook, log)  # for a look after a failure
    return "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )


def test_notebook_is_stored_without_outputs_and_parameters_come_first() -> None:
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in PARAMETERS:
        assert re.search(rf"^{name} = ", code[0].source, re.MULTILINE), name
    # No made-up repository address: without a checkout the user must say where the package is.
    assert re.search(r"^REPO = None\b", code[0].source, re.MULTILINE)
    assert "github.com/imagesearch/imagesearch" not in NOTEBOOK.read_text(encoding="utf-8")
    # The logic lives in the package: the notebook calls it rather than carrying a copy.
    source = "\n".join(cell.source for cell in code)
    calls = ("load_encoder(settings)", "run_pipeline(settings,", "Searcher.load(settings, encoder)")
    for call in (*calls, "bundle_files(settings)"):
        assert call in source
    assert "import faiss" not in source and "import open_clip" not in source
    assert "settings.index_path, settings.urls_path" not in source  # no hand-kept list of files


def install_notebook(repo: str | None, before: str = "") -> nbformat.NotebookNode:
    """The parameters cell, ``REPO`` set, an optional stub cell, and the notebook's install cell."""
    notebook = read_notebook()
    position = parameters_position(notebook)
    install = next(cell for cell in notebook.cells[position + 1 :] if cell.cell_type == "code")
    assert "import imagesearch" in install.source
    cells = [notebook.cells[position], parameters_cell({"REPO": repo})]
    if before:
        cells.append(nbformat.v4.new_code_cell(before))
    notebook.cells = [*cells, install]
    return notebook


# Records the pip command instead of running it (the developer's environment stays as it is).
FAKE_PIP = "import subprocess\npip_calls = []\nsubprocess.run = lambda args, **kwargs: pip_calls.append(args)"


def test_install_cell_without_repo_or_checkout_asks_for_the_repository(tmp_path: Path) -> None:
    # As on Colab: no checkout around the notebook and no imagesearch installed.
    assert not (tmp_path / "backend").exists() and not (tmp_path.parent / "backend").exists()
    blocked = 'import sys\nsys.modules["imagesearch"] = None  # as if it were not installed\n' + FAKE_PIP
    notebook = install_notebook(None, blocked)
    with pytest.raises(CellExecutionError) as failure:
        execute(notebook, tmp_path, kernel_env(), tmp_path / "executed.ipynb")
    message = str(failure.value)
    assert MISSING_MESSAGE in message
    assert "git+https://github.com/<owner>/<repo>.git#subdirectory=backend" in message
    assert "imagesearch-*.whl" in message


def test_install_cell_without_repo_uses_an_installed_package(tmp_path: Path) -> None:
    notebook = install_notebook(None, FAKE_PIP)
    notebook.cells.append(nbformat.v4.new_code_cell("print('pip calls:', pip_calls)"))
    text = execute(notebook, tmp_path, kernel_env(), tmp_path / "executed.ipynb")
    assert "using the imagesearch already installed" in text
    assert "pip calls: []" in text
    assert re.search(r"^imagesearch \S+ from ", text, re.MULTILINE)


@pytest.mark.parametrize("where", ["next to the notebook", "one level up"])
def test_install_cell_without_repo_installs_the_checkout(tmp_path: Path, where: str) -> None:
    checkout = tmp_path / "backend"
    checkout.mkdir()
    shutil.copy2(BACKEND_DIR / "pyproject.toml", checkout)
    cwd = tmp_path if where == "next to the notebook" else tmp_path / "notebooks"
    cwd.mkdir(exist_ok=True)
    notebook = install_notebook(None, FAKE_PIP)
    notebook.cells.append(nbformat.v4.new_code_cell("print('pip calls:', pip_calls)"))
    text = execute(notebook, cwd, kernel_env(), tmp_path / "executed.ipynb")
    assert f"'install', '--quiet', '-e', '{checkout}']]" in text


def test_install_cell_with_repo_installs_exactly_that(tmp_path: Path) -> None:
    (tmp_path / "backend").mkdir()  # a checkout here does not matter once REPO says where
    shutil.copy2(BACKEND_DIR / "pyproject.toml", tmp_path / "backend")
    notebook = install_notebook("git+https://example.org/me/fork.git#subdirectory=backend", FAKE_PIP)
    notebook.cells.append(nbformat.v4.new_code_cell("print('pip calls:', pip_calls)"))
    text = execute(notebook, tmp_path, kernel_env(), tmp_path / "executed.ipynb")
    assert "'--quiet', 'git+https://example.org/me/fork.git#subdirectory=backend']]" in text


def write_caption_csv(path: Path, images: list[Path]) -> dict[str, str]:
    """An Unsplash-like CSV (relative image paths, two description columns); returns name -> caption."""
    captions = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "photo_image_url", "photo_description", "ai_description"])
        for number, image in enumerate(images):
            description = "" if number == 1 else f"photo  number {number}"
            ai_description = f"generated picture {number}"
            writer.writerow([number, image.relative_to(path.parent).as_posix(), description, ai_description])
            parts = [f"photo number {number}"] if description else []
            captions[image.name] = CAPTION_SEPARATOR.join([*parts, ai_description])
    return captions


def test_notebook_runs_end_to_end_and_its_archive_serves(tiny_checkpoint: Path, tmp_path: Path) -> None:
    images = write_images(tmp_path / "images", 8)
    caption_of = write_caption_csv(tmp_path / "photos_url.csv", images)
    site = tmp_path / "site"  # where the notebook's pip install puts the package
    site.mkdir()
    # Install from a copy of the package source, so the build writes nothing into the checkout.
    package = tmp_path / "backend"
    package.mkdir()
    shutil.copy2(BACKEND_DIR / "pyproject.toml", package)
    shutil.copytree(
        BACKEND_DIR / "imagesearch", package / "imagesearch", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path / "out"
    isolation = "--no-build-isolation" if importlib.util.find_spec("setuptools") else ""
    values = {
        "SOURCE": str(tmp_path / "photos_url.csv"),
        "LIMIT": 6,
        "DATA_DIR": str(out),
        "MODEL": TINY_MODEL,
        "PRETRAINED": str(tiny_checkpoint),
        "MODEL_CONFIG_FILE": str(TINY_CONFIG),
        "BATCH_SIZE": 4,
        "SAMPLE_QUERIES": ["a red square", "a blue circle"],
        "TOP_K": 3,
        # setuptools already here: build offline; otherwise pip fetches it into an isolated env.
        "REPO": f"--no-deps {isolation} --target {site} {package}",
    }
    notebook = read_notebook()
    notebook.cells.insert(parameters_position(notebook) + 1, parameters_cell(values))
    text = execute(notebook, tmp_path, kernel_env(PYTHONPATH=str(site)), tmp_path / "executed.ipynb")

    assert f"from {site}" in text  # the copy the install cell put there, not the developer's checkout
    assert "No GPU found" in text or "GPU:" in text
    assert "6 images indexed, 0 failed (of 6)" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["model"] == TINY_MODEL
    assert manifest["has_captions"] is True
    assert manifest["caption_columns"] == ["photo_description", "ai_description"]
    # Image -> image: the first indexed image finds itself first (random weights still agree).
    first_image = re.search(r"^image: .*?\[\((\d+), ([0-9.]+)\)", text, re.MULTILINE)
    assert first_image is not None, text
    assert first_image.group(1) == "0" and float(first_image.group(2)) > 0.99
    shown = [
        output["data"]["text/html"]
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    assert len(shown) == 3 and all(html.count('src="data:image/png;base64,') == 3 for html in shown)

    # The archive holds exactly the build: every file the manifest has a checksum for, and itself.
    with zipfile.ZipFile(out / "imagesearch-index.zip") as archive:
        names = sorted(archive.namelist())
        assert names == sorted([*manifest["checksums"], "manifest.json"])
        assert str(CAPTIONS_RELPATH) in names
        served = tmp_path / "served"  # a fresh, empty data folder, as on the machine serving it
        served.mkdir()
        archive.extractall(served)

    settings = tiny_settings(tiny_checkpoint, served)
    with serving(settings, tmp_path / "api.log") as server:
        health = httpx.get(f"{server.url}/health", timeout=10).json()
        assert health["images"] == 6 and health["captions"] is True and health["model"] == TINY_MODEL
        response = httpx.get(f"{server.url}/search", params={"query": "a red square", "top_k": 6}, timeout=30)
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert sorted(Path(hit["source"]).name for hit in results) == sorted(p.name for p in images[:6])
        for hit in results:
            assert hit["caption"] == caption_of[Path(hit["source"]).name], hit
        upload = {"file": (images[1].name, images[1].read_bytes())}
        response = httpx.post(f"{server.url}/search-by-image", files=upload, data={"top_k": "1"}, timeout=30)
        assert response.status_code == 200, response.text
        (best,) = response.json()["results"]
        assert best["id"] == 1 and best["caption"] == caption_of[images[1].name] == "generated picture 1"


# bundle_files (index_store) is what the notebook archives; checked here beside its one caller.


def save_tiny_bundle(settings: Settings, captions: list[str] | None) -> None:
    vectors = np.eye(3, 4, dtype=np.float32)
    manifest = Manifest(encoder_id="test", model="m", pretrained="p", dim=4, count=3, index_type="")
    save_bundle(settings, build_flat_index(vectors), ["a.jpg", "b.jpg", "c.jpg"], manifest, captions)


def test_bundle_files_are_the_manifests_files_and_the_manifest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(IndexLoadError, match="no index at"):
        bundle_files(settings)
    save_tiny_bundle(settings, ["one", "two", "three"])
    (tmp_path / "pipeline_failures.csv").write_text("position,source,error\n")  # not part of the build
    expected = ["embeddings/captions.json", "embeddings/image_urls.pkl", "faiss_index/image_index.faiss"]
    assert bundle_files(settings) == [*(tmp_path / name for name in expected), settings.manifest_path]

    # Rebuilt without captions: the old captions.json stays on disk but is no part of this build.
    save_tiny_bundle(settings, None)
    assert (tmp_path / CAPTIONS_RELPATH).is_file()
    assert bundle_files(settings) == [*(tmp_path / name for name in expected[1:]), settings.manifest_path]

    settings.urls_path.unlink()
    with pytest.raises(IndexLoadError, match=r"image_urls\.pkl is missing"):
        bundle_files(settings)


def test_bundle_files_refuses_a_path_outside_the_data_folder(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    save_tiny_bundle(settings, None)
    manifest = Manifest.model_validate_json(settings.manifest_path.read_bytes())
    manifest.checksums["../elsewhere.txt"] = "0" * 64
    settings.manifest_path.write_text(manifest.model_dump_json())
    (tmp_path / "elsewhere.txt").write_text("not part of the build")
    with pytest.raises(IndexLoadError, match="outside"):
        bundle_files(settings)

"""The re-indexing notebook: stored clean, and executed end to end with nbclient.

The run injects a parameters cell after the one tagged ``parameters`` (papermill's convention),
so the notebook runs exactly as a user runs it: its install cell really pip-installs the backend
from this repository (into a scratch ``--target`` folder put first on the kernel's path, so the
developer's environment is left alone), and every later cell imports that installed copy.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import nbformat
from conftest import BACKEND_DIR, TINY_CONFIG, TINY_MODEL
from imagegen import write_images
from nbclient import NotebookClient

NOTEBOOK = BACKEND_DIR.parent / "clip_embedding_generation.ipynb"
PARAMETERS = ("SOURCE", "URL_COLUMN", "LIMIT", "DATA_DIR", "MODEL", "PRETRAINED", "REPO")


def read_notebook() -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def test_notebook_is_stored_without_outputs_and_parameters_come_first() -> None:
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    for name in PARAMETERS:
        assert re.search(rf"^{name} = ", code[0].source, re.MULTILINE), name
    # The logic lives in the package: the notebook calls it rather than carrying a copy.
    source = "\n".join(cell.source for cell in code)
    for call in ("load_encoder(settings)", "run_pipeline(settings,", "Searcher.load(settings, encoder)"):
        assert call in source
    assert "import faiss" not in source and "import open_clip" not in source


def test_notebook_runs_end_to_end(tiny_checkpoint: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    write_images(images, 8)
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
        "SOURCE": str(images),
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
    position = next(
        i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])
    )
    injected = nbformat.v4.new_code_cell(
        "\n".join(f"{name} = {value!r}" for name, value in values.items()),
        metadata={"tags": ["injected-parameters"]},
    )
    notebook.cells.insert(position + 1, injected)
    env = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    env["PYTHONPATH"] = str(site)

    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute(env=env)  # raises CellExecutionError naming the cell if any cell fails
    finally:
        nbformat.write(notebook, tmp_path / "executed.ipynb")  # for a look after a failure

    text = "\n".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert f"from {site}" in text  # the copy the install cell put there, not the developer's checkout
    assert "No GPU found" in text or "GPU:" in text
    assert "6 images indexed, 0 failed (of 6)" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["count"] == 6 and manifest["model"] == TINY_MODEL
    for name in ("faiss_index/image_index.faiss", "embeddings/image_urls.pkl", "imagesearch-index.zip"):
        assert (out / name).is_file(), name
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

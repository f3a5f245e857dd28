"""What the reference tests share: the bound, the pipeline CLI and the API on the default path,
and reading a built index back (tests/e2e/test_reference_clip.py, test_other_models.py)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import faiss
import httpx
import numpy as np

from support.paths import BACKEND_DIR
from support.servers import Server

TOLERANCE = 2e-4  # per component of unit vectors
# Makes open_clip's mismatch warning fatal in every process these tests start.
WARNINGS_ENV = {"PYTHONWARNINGS": "error::UserWarning:open_clip.factory"}


def run_pipeline_cli(source: Path, data_dir: Path, env: dict[str, str], *args: str) -> None:
    """``backend/run_pipeline.py`` with the defaults: no IMAGESEARCH_* variable but these."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("IMAGESEARCH_")}
    result = subprocess.run(
        [sys.executable, "run_pipeline.py", str(source), "--data-dir", str(data_dir), "--quiet", *args],
        cwd=BACKEND_DIR,
        env=base | env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mismatch" not in result.stderr.lower(), result.stderr


def index_vectors(data_dir: Path) -> tuple[list[str], np.ndarray]:
    index = faiss.read_index(str(data_dir / "faiss_index" / "image_index.faiss"))
    urls = pickle.loads((data_dir / "embeddings" / "image_urls.pkl").read_bytes())
    return urls, index.reconstruct_n(0, index.ntotal)


def embed_texts(server: Server, texts: list[str]) -> np.ndarray:
    rows = []
    for start in range(0, len(texts), 50):
        response = httpx.post(
            f"{server.url}/embed/text", json={"texts": texts[start : start + 50]}, timeout=120
        )
        assert response.status_code == 200, response.text
        rows.extend(response.json()["vectors"])
    return np.asarray(rows, dtype=np.float32)


def embed_image(server: Server, path: Path) -> np.ndarray:
    with path.open("rb") as handle:
        response = httpx.post(f"{server.url}/embed/image", files={"file": (path.name, handle)}, timeout=120)
    assert response.status_code == 200, response.text
    return np.asarray(response.json()["vectors"][0], dtype=np.float32)

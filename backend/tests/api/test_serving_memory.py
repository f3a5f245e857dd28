"""The API process never loads torch: its query towers come from a cache entry that a child
process exported (and that the next start only reads)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from support.processes import mapped_files
from support.servers import serving
from support.tiny import BuiltIndex

EXPORTED = re.compile(r"\[export child pid (\d+)\]: exporting the query towers")
CACHED = re.compile(r"\[export child pid (\d+)\]: query towers cached in")


def test_the_api_serves_queries_without_torch_in_its_process(built_index: BuiltIndex, tmp_path: Path) -> None:
    env = {"IMAGESEARCH_CACHE_DIR": str(tmp_path / "cache")}  # empty: this start exports
    with serving(built_index.settings, tmp_path / "cold.log", env, timeout_s=300) as server:
        health = httpx.get(f"{server.url}/health").json()
        assert health["query_runtime"] == "onnxruntime fp32"
        response = httpx.get(f"{server.url}/search", params={"query": "a red car", "top_k": 3}, timeout=30)
        assert response.status_code == 200 and len(response.json()["results"]) == 3
        libraries = mapped_files(server.process.pid)
        assert any("onnxruntime" in path for path in libraries)  # the check sees loaded libraries ...
        assert not [path for path in libraries if "libtorch" in path]  # ... and torch is not one
        api_pid = server.process.pid
    log = (tmp_path / "cold.log").read_text()
    exporters = {int(pid) for pid in EXPORTED.findall(log)}
    assert exporters and api_pid not in exporters, log
    with serving(built_index.settings, tmp_path / "warm.log", env, timeout_s=300) as server:
        assert httpx.get(f"{server.url}/health").json()["query_runtime"] == "onnxruntime fp32"
    warm = (tmp_path / "warm.log").read_text()
    assert CACHED.search(warm) and not EXPORTED.search(warm), warm

"""No answer of the API tells a client where the indexed files lie on the server's disk.

The shared ``api`` server indexes a folder of images in nested sub-folders with the default
IMAGESEARCH_SOURCE_PATHS=relative; the absolute setting is tested in test_access.py.
"""

from pathlib import Path

import httpx
from support.servers import Server
from support.tiny import BuiltIndex


def test_sources_are_relative_to_the_indexed_folder(api: Server, built_index: BuiltIndex) -> None:
    folder = built_index.source.resolve()
    results = httpx.get(f"{api.url}/search", params={"query": "x", "top_k": 24}, timeout=30).json()["results"]
    assert sorted(result["source"] for result in results) == sorted(
        path.relative_to(folder).as_posix() for path in folder.rglob("img*")
    )
    assert all(result["source"].startswith("set") for result in results)  # set0/img0000.jpg, ...


def test_no_answer_reveals_the_servers_paths(api: Server, built_index: BuiltIndex) -> None:
    folder = str(built_index.source.resolve())
    data_dir = str(built_index.settings.data_dir)
    upload = sorted(built_index.source.rglob("*.png"))[0]
    answers = [
        httpx.get(f"{api.url}/search", params={"query": "x", "top_k": 24, "dedupe": True}, timeout=30),
        httpx.post(f"{api.url}/search", json={"terms": [{"image_id": 3}, {"text": "x"}]}, timeout=30),
        httpx.post(f"{api.url}/search/batch", json={"queries": [{"text": "a"}, {"image_id": 1}]}, timeout=30),
        httpx.get(f"{api.url}/similar/4", params={"top_k": 24, "facets": "width"}, timeout=30),
        httpx.post(f"{api.url}/search-by-image", files={"file": ("q.png", upload.read_bytes())}, timeout=30),
        httpx.get(f"{api.url}/health"),
        httpx.get(f"{api.url}/images/999"),
        httpx.get(f"{api.url}/similar/999"),
        httpx.post(f"{api.url}/search-by-image", files={"file": ("q.png", b"not an image")}, timeout=30),
    ]
    for answer in answers:
        assert answer.status_code in (200, 404, 422), answer.text
        assert folder not in answer.text and data_dir not in answer.text, answer.text
        assert str(Path(folder).parent) not in answer.text, answer.text

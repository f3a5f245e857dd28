from collections.abc import Iterator
from pathlib import Path

import pytest
from support.imageserver import ImageServer
from support.tiny import tiny_settings

from imagesearch.errors import FetchError, ImageTooLargeError
from imagesearch.ingest.fetch import Fetcher


@pytest.fixture
def server(image_dir: Path) -> Iterator[ImageServer]:
    srv = ImageServer(image_dir)
    yield srv
    srv.close()


@pytest.fixture
def fetcher(tmp_path: Path) -> Iterator[Fetcher]:
    settings = tiny_settings(
        tmp_path / "none.pt", tmp_path, fetch_timeout_s=1.0, fetch_retries=2, max_image_bytes=1_000_000
    )
    fetch = Fetcher(settings)
    yield fetch
    fetch.close()


def first_image(image_dir: Path) -> Path:
    return sorted(image_dir.rglob("*.jpg"))[0]


def test_http_fetch_returns_the_bytes_with_an_honest_user_agent(
    server: ImageServer, fetcher: Fetcher, image_dir: Path
) -> None:
    image = first_image(image_dir)
    data = fetcher.fetch(f"{server.url}/files/{image.relative_to(image_dir)}")
    assert data == image.read_bytes()
    assert server.agents[-1].startswith("imagesearch-pipeline/")


def test_transient_errors_are_retried(server: ImageServer, fetcher: Fetcher, image_dir: Path) -> None:
    image = first_image(image_dir)
    path = f"/flaky/{image.relative_to(image_dir)}"
    assert fetcher.fetch(server.url + path) == image.read_bytes()
    assert server.hits[path] == 2


def test_404_is_not_retried(server: ImageServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="404"):
        fetcher.fetch(f"{server.url}/missing")
    assert server.hits["/missing"] == 1


def test_timeout_gives_up_after_retries(server: ImageServer, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="gave up"):
        fetcher.fetch(f"{server.url}/slow")
    assert server.hits["/slow"] == 3  # first try + 2 retries


def test_declared_and_streamed_size_limits(server: ImageServer, fetcher: Fetcher) -> None:
    with pytest.raises(ImageTooLargeError):
        fetcher.fetch(f"{server.url}/huge")
    with pytest.raises(ImageTooLargeError):
        fetcher.fetch(f"{server.url}/endless")


def test_local_paths_and_file_urls(fetcher: Fetcher, image_dir: Path, tmp_path: Path) -> None:
    image = first_image(image_dir)
    assert fetcher.fetch(str(image)) == image.read_bytes()
    assert fetcher.fetch(image.as_uri()) == image.read_bytes()
    spaced = tmp_path / "with space.jpg"
    spaced.write_bytes(image.read_bytes())
    assert fetcher.fetch(spaced.as_uri()) == image.read_bytes()


def test_local_errors(fetcher: Fetcher, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="not found"):
        fetcher.fetch(str(tmp_path / "missing.jpg"))
    with pytest.raises(FetchError, match="not a file"):
        fetcher.fetch(str(tmp_path))
    with pytest.raises(FetchError, match="scheme"):
        fetcher.fetch("ftp://example.org/a.jpg")
    with pytest.raises(FetchError, match="empty"):
        fetcher.fetch("")
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\0" * 1_000_001)
    with pytest.raises(ImageTooLargeError):
        fetcher.fetch(str(big))

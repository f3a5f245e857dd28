"""Fetching: the only HTTP client. Bounded size, timeouts, retries with backoff, honest UA."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    retry,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from imagesearch.config import Settings
from imagesearch.errors import FetchError, ImageTooLargeError

_TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class _TransientError(Exception):
    """A failure worth retrying (timeout, reset connection, 429/5xx)."""


class Fetcher:
    """Reads the bytes of one image reference: http(s) URL, file:// URL or local path.

    Thread-safe: the pipeline calls ``fetch`` from a pool of workers sharing one session.
    """

    def __init__(self, settings: Settings) -> None:
        self._timeout = settings.fetch_timeout_s
        self._max_bytes = settings.max_image_bytes
        self._session = requests.Session()
        self._session.headers["User-Agent"] = settings.user_agent
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=settings.fetch_workers)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._get_with_retries = retry(
            retry=retry_if_exception_type(_TransientError),
            stop=stop_after_attempt(settings.fetch_retries + 1),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        )(self._get_once)

    def close(self) -> None:
        self._session.close()

    def fetch(self, reference: str) -> bytes:
        """Return the bytes; raise FetchError or ImageTooLargeError."""
        if not reference:
            raise FetchError("empty image reference")
        scheme = urlparse(reference).scheme.lower()
        if scheme in ("http", "https"):
            try:
                return self._get_with_retries(reference)
            except _TransientError as exc:
                raise FetchError(f"gave up after retries: {exc}") from exc
        if scheme == "file":
            return self._read_file(Path(unquote(urlparse(reference).path)))
        if "://" in reference:
            raise FetchError(f"unsupported URL scheme {scheme!r}")
        return self._read_file(Path(reference))

    def _get_once(self, url: str) -> bytes:
        try:
            with self._session.get(url, timeout=self._timeout, stream=True) as response:
                if response.status_code in _TRANSIENT_STATUS:
                    raise _TransientError(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self._max_bytes:
                    raise self._too_large(int(declared))
                return self._read_bounded(response)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _TransientError(type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise FetchError(f"request failed: {exc}") from exc

    def _read_bounded(self, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        total = 0
        for chunk in response.iter_content(chunk_size=1 << 16):
            total += len(chunk)
            if total > self._max_bytes:
                raise self._too_large(total)
            chunks.append(chunk)
        return b"".join(chunks)

    def _read_file(self, path: Path) -> bytes:
        try:
            size = path.stat().st_size
            if size > self._max_bytes:
                raise self._too_large(size)
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise FetchError(f"file not found: {path}") from exc
        except IsADirectoryError as exc:
            raise FetchError(f"not a file: {path}") from exc
        except PermissionError as exc:
            raise FetchError(f"permission denied: {path}") from exc

    def _too_large(self, size: int) -> ImageTooLargeError:
        return ImageTooLargeError(f"{size:,} bytes is over the {self._max_bytes:,}-byte limit")

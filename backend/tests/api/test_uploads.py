"""Crafted inputs to every endpoint that takes an image, against a live server.

Each gets a 4xx with a readable message, or, where the image is valid, a correct result; the
server keeps answering and its memory stays bounded (peak RSS sampled during the suite).
"""

from __future__ import annotations

import io
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psutil
import pytest
from PIL import Image
from support.servers import Server, serving
from support.tiny import BuiltIndex

from imagesearch.index.store import load_bundle

MB = 1024 * 1024


def save(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def noise(size: tuple[int, int] = (320, 240), seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_with_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares any size, with a tiny compressed body (a bomb when huge)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", body) + png_chunk(b"IEND", b"")
    )


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real JPEG whose SOF0 marker is rewritten to declare another size."""
    data = bytearray(save(noise((64, 64)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_bomb() -> bytes:
    data = bytearray(save(Image.new("P", (8, 8)), "GIF"))
    data[6:10] = struct.pack("<HH", 65_000, 65_000)  # logical screen size
    return bytes(data)


def zip_file() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", save(noise(), "JPEG"))
    return buffer.getvalue()


def exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 8
    return save(noise((400, 200), seed=3), "JPEG", exif=exif.tobytes())


def bad_exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 99  # no such orientation
    return save(noise(seed=4), "JPEG", exif=exif.tobytes())


def animated_gif() -> bytes:
    frames = [noise((64, 64), seed=s).convert("P") for s in range(3)]
    return save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)


def png_text_bomb() -> bytes:
    raw = save(noise((32, 32)), "PNG")
    chunk = png_chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"A" * 64 * MB))
    return raw[:-12] + chunk + raw[-12:]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[Path], bytes]  # gets the path of an indexed image
    expect: int  # HTTP status; 200 means "a valid image: must give results"
    finds_indexed: bool = False  # the upload is a copy of the indexed image: it must rank first
    filename: str = "upload.jpg"
    content_type: str = "image/jpeg"


def converted(fmt: str, mode: str | None = None, **kwargs: object) -> Callable[[Path], bytes]:
    def make(path: Path) -> bytes:
        image = Image.open(path).convert("RGB")
        return save(image.convert(mode) if mode else image, fmt, **kwargs)

    return make


CASES = [
    Case("empty file", lambda _: b"", 422),
    Case("one byte", lambda _: b"\xff", 422),
    Case("text renamed .jpg", lambda _: b"just some words, not a photo\n" * 20, 422),
    Case("html", lambda _: b"<!doctype html><html><body>hi</body></html>", 422, content_type="text/html"),
    Case("json", lambda _: b'{"image": "data"}', 422, content_type="application/json"),
    Case("pdf header", lambda _: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 422),
    Case("svg", lambda _: b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', 422),
    Case("zip archive", lambda _: zip_file(), 422, content_type="application/zip"),
    Case("truncated jpeg", lambda p: converted("JPEG")(p)[:600], 422),
    Case("truncated png", lambda p: converted("PNG")(p)[:700], 422, filename="a.png"),
    Case("jpeg header only", lambda p: converted("JPEG")(p)[:20], 422),
    Case("png zero width", lambda _: png_with_header(0, 10), 422, filename="a.png"),
    Case("png bomb 100k x 100k", lambda _: png_with_header(100_000, 100_000), 413, filename="a.png"),
    Case("jpeg declaring 60000x60000", lambda _: jpeg_with_size(60_000, 60_000), 413),
    Case("gif bomb", lambda _: gif_bomb(), 413, filename="a.gif"),
    Case("png 10000x1 strip", lambda _: save(Image.new("RGB", (10_000, 1)), "PNG"), 422),
    Case("png text-chunk bomb", lambda _: png_text_bomb(), 422, filename="a.png"),  # PIL caps text chunks
    Case("animated gif", lambda _: animated_gif(), 200, filename="a.gif"),
    Case("cmyk jpeg", converted("JPEG", "CMYK"), 200),
    Case("16-bit png", lambda _: save(Image.fromarray(np.full((50, 50), 40000, np.uint16)), "PNG"), 200),
    Case("palette png", converted("PNG", "P"), 200, filename="a.png"),
    Case("greyscale jpeg", converted("JPEG", "L"), 200),
    Case("1-bit png", converted("PNG", "1"), 200, filename="a.png"),
    Case("exif-rotated photo", lambda _: exif_rotated(), 200),
    Case("invalid exif orientation", lambda _: bad_exif(), 200),
    Case("1x1 png", lambda _: save(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"), 200, filename="a.png"),
    Case("webp copy", converted("WEBP", quality=95), 200, True, "a.webp", "image/webp"),
    Case("bmp copy", converted("BMP"), 200, True, "a.bmp", "image/bmp"),
    Case("tiff copy", converted("TIFF"), 200, True, "a.tiff", "image/tiff"),
    Case("png copy", converted("PNG"), 200, True, "a.png", "image/png"),
    Case("polyglot jpeg+zip", lambda p: converted("JPEG", quality=95)(p) + zip_file(), 200, True),
    Case("valid image, wrong content type", converted("JPEG", quality=95), 200, True, "a.txt", "text/plain"),
    Case("valid image, odd filename", converted("JPEG", quality=95), 200, True, "ü\x7f名前 .jpg"),
]


@pytest.fixture(scope="module")
def server(built_index: BuiltIndex, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving(built_index.settings, tmp_path_factory.mktemp("hostile") / "api.log") as srv:
        yield srv


class PeakRss:
    """Samples a process's resident memory every 20 ms in a background thread."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def test_at_least_30_crafted_inputs() -> None:
    assert len(CASES) >= 30 and len({case.name for case in CASES}) == len(CASES)


def test_hostile_uploads(server: Server, built_index: BuiltIndex) -> None:
    indexed = Path(load_bundle(built_index.settings).urls[3])
    rss = PeakRss(server.process.pid)
    problems = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for case in CASES:
            data = case.make(indexed)
            files = {"file": (case.filename, data, case.content_type)}
            response = client.post("/search-by-image", files=files, params={"top_k": 3})
            body = response.json()
            if response.status_code != case.expect:
                problems.append(f"{case.name}: {response.status_code} {body}")
            elif case.expect == 200 and not body["results"]:
                problems.append(f"{case.name}: no results")
            elif case.expect != 200 and not (isinstance(body["detail"], str) and len(body["detail"]) > 10):
                problems.append(f"{case.name}: unclear message {body}")
            elif case.finds_indexed and body["results"][0]["id"] != 3:
                problems.append(f"{case.name}: copy of image 3 ranked {body['results'][0]['id']} first")
        assert client.get("/health").status_code == 200
    rss.stop()
    growth_mb = (rss.peak - rss.start) / MB
    print(f"\nhostile uploads: {len(CASES)} cases, RSS {rss.start / MB:.0f} -> peak {rss.peak / MB:.0f} MB")
    assert not problems, "\n".join(problems)
    assert growth_mb < 400, f"server memory grew by {growth_mb:.0f} MB during the suite"


def test_body_and_field_abuse(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        checks = {
            "wrong field": client.post("/search-by-image", files={"image": ("a.jpg", b"x")}),
            "no body": client.post("/search-by-image"),
            "json body": client.post("/search-by-image", json={"file": "abc"}),
            "urlencoded": client.post("/search-by-image", data={"file": "abc"}),
            "top_k not a number": client.post(
                "/search-by-image", files={"file": ("a.jpg", save(noise(), "JPEG"))}, data={"top_k": "abc"}
            ),
            "top_k too big": client.post(
                "/search-by-image", files={"file": ("a.jpg", save(noise(), "JPEG"))}, params={"top_k": 10_000}
            ),
        }
        for name, response in checks.items():
            assert response.status_code == 422, (name, response.text)
            assert isinstance(response.json()["detail"], str), name

        def hundred_megabytes() -> Iterator[bytes]:
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n\r\n'
            for _ in range(100):
                yield b"\xff" * MB
            yield b"\r\n--b--\r\n"

        # Chunked, so no Content-Length announces it: the route's own byte count must stop it.
        big = client.post(
            "/search-by-image",
            content=hundred_megabytes(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert big.status_code == 413 and "limit" in big.json()["detail"]
        assert client.get("/health").status_code == 200

"""Image sources: a CSV of URLs/paths, a folder, or a list file -> ordered source strings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imagesearch.errors import SourceError

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif", ".pjpeg"}
)
# Checked in order; the seed's Unsplash CSV uses photo_image_url.
URL_COLUMN_CANDIDATES = (
    "url",
    "image_url",
    "photo_image_url",
    "img_url",
    "image",
    "path",
    "image_path",
    "filepath",
    "file_path",
    "file",
    "filename",
    "uri",
    "src",
    "link",
)


def read_sources(source: Path, url_column: str | None = None) -> list[str]:
    """Return the image references of ``source`` in a stable order.

    CSV: one row per image, the URL column found by name (or ``url_column``). Folder: every
    image file below it, sorted by path. Other files: one URL or path per line, ``#`` comments.
    Relative local paths are resolved against the CSV/list file's folder and stored absolute,
    so the API can serve them whatever its working directory.
    """
    if source.is_dir():
        return read_folder(source)
    if not source.is_file():
        raise SourceError(f"source not found: {source}")
    if source.suffix.lower() in (".csv", ".tsv"):
        return read_csv(source, url_column)
    return read_list(source)


def read_folder(folder: Path) -> list[str]:
    files = sorted(
        path.resolve()
        for path in folder.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")
    )
    if not files:
        raise SourceError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under {folder}")
    return [str(path) for path in files]


def read_csv(path: Path, url_column: str | None = None) -> list[str]:
    separator = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(path, sep=separator, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read {path} as CSV: {exc}") from exc
    column = url_column or detect_url_column(list(frame.columns))
    if column not in frame.columns:
        raise SourceError(f"{path} has no column {column!r}; columns: {', '.join(map(str, frame.columns))}")
    return [resolve_reference(value.strip(), path.parent) for value in frame[column]]


def detect_url_column(columns: list[str]) -> str:
    by_lower = {str(column).strip().lower(): str(column) for column in columns}
    for candidate in URL_COLUMN_CANDIDATES:
        if candidate in by_lower:
            return by_lower[candidate]
    raise SourceError(
        f"no URL column found among {columns}; expected one of {', '.join(URL_COLUMN_CANDIDATES)} "
        "or pass --url-column NAME"
    )


def read_list(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [
        resolve_reference(line.strip(), path.parent)
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]


def resolve_reference(value: str, base: Path) -> str:
    """URLs stay as given; a relative local path becomes absolute against ``base``."""
    if not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())

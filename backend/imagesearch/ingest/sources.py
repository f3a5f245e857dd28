"""Image sources: a CSV of URLs/paths, a folder, or a list file -> ordered source strings.

A CSV may also carry captions (``read_records``): ``captions[i]`` describes ``urls[i]``, from the
columns found by name (or given), several joined with " — ".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

import pandas as pd

from imagesearch.errors import SourceError
from imagesearch.index.metadata import MetadataTable
from imagesearch.index.source_paths import common_folder, local_file
from imagesearch.ingest.metadata import MetadataOptions, MetadataProblem, table_metadata
from imagesearch.ingest.tables import CAPTION_COLUMN_CANDIDATES, is_candidate, read_table, require_column

logger = logging.getLogger(__name__)

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
CAPTION_SEPARATOR = " — "


@dataclass(frozen=True)
class SourceRecords:
    """The image references of a source and, for a CSV with caption columns, their captions."""

    urls: list[str]
    captions: list[str] | None = None  # captions[i] describes urls[i]; None: the source has none
    caption_columns: tuple[str, ...] = ()
    metadata: MetadataTable | None = None  # a CSV's other columns, typed; row i describes urls[i]
    problems: tuple[MetadataProblem, ...] = ()  # cells that did not fit their column's type

    def head(self, limit: int | None) -> SourceRecords:
        """The first ``limit`` records (all of them for None)."""
        if limit is None:
            return self
        captions = None if self.captions is None else self.captions[:limit]
        metadata = None if self.metadata is None else self.metadata.take(range(min(limit, len(self.urls))))
        problems = tuple(problem for problem in self.problems if problem.row < limit)
        return SourceRecords(self.urls[:limit], captions, self.caption_columns, metadata, problems)

    def metadata_at(self, positions: Iterable[int]) -> MetadataTable | None:
        """The CSV metadata of the records at ``positions`` (None without a CSV)."""
        return None if self.metadata is None else self.metadata.take(list(positions))

    def captions_at(self, positions: Iterable[int]) -> list[str] | None:
        """The captions of the records at ``positions`` (None without captions)."""
        if self.captions is None:
            return None
        return [self.captions[int(position)] for position in positions]


def read_records(
    source: Path,
    url_column: str | None = None,
    caption_columns: Sequence[str] = (),
    metadata: MetadataOptions | None = None,
) -> SourceRecords:
    """Like ``read_sources``, plus the captions and the typed metadata columns a CSV carries.

    ``caption_columns`` overrides the detection by name; naming them (or metadata columns or
    types) for a folder or a list file is an error (they have no columns). A source whose
    captions are all empty has none.
    """
    options = metadata or MetadataOptions()
    if not (source.is_file() and source.suffix.lower() in (".csv", ".tsv")):
        urls = read_sources(source, url_column)
        if caption_columns or options.columns or options.types:
            raise SourceError(f"--caption-column (or --metadata-*) needs a CSV source; {source} is not one")
        return SourceRecords(urls)
    frame = read_table(source)
    urls = _url_values(frame, source, url_column)
    table, problems = table_metadata(frame, url_column or detect_url_column(list(frame.columns)), options)
    records = SourceRecords(urls, metadata=table, problems=tuple(problems))
    columns = _caption_columns(frame, source, caption_columns, exclude=url_column)
    if not columns:
        return records
    captions = [_join(row) for row in frame[list(columns)].itertuples(index=False)]
    if not any(captions):
        logger.info("caption columns %s of %s are all empty: no captions", ", ".join(columns), source)
        return records
    return replace(records, captions=captions, caption_columns=columns)


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
    return _url_values(read_table(path), path, url_column)


def _url_values(frame: pd.DataFrame, path: Path, url_column: str | None) -> list[str]:
    column = url_column or detect_url_column(list(frame.columns))
    require_column(frame, path, column)
    return [resolve_reference(value.strip(), path.parent) for value in frame[column]]


def _caption_columns(
    frame: pd.DataFrame, path: Path, given: Sequence[str], exclude: str | None
) -> tuple[str, ...]:
    if given:
        for column in given:
            require_column(frame, path, column)
        return tuple(dict.fromkeys(given))
    url_column = exclude or detect_url_column(list(frame.columns))
    return tuple(
        str(column)
        for column in frame.columns
        if is_candidate(column, CAPTION_COLUMN_CANDIDATES) and column != url_column
    )


def _join(values: Sequence[object]) -> str:
    """The non-empty cells of one row, whitespace collapsed, joined with " — "."""
    parts = (" ".join(str(value).split()) for value in values)
    return CAPTION_SEPARATOR.join(part for part in parts if part)


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


def source_root(source: Path, urls: Sequence[str]) -> str:
    """The folder the API shows the local sources of ``source`` relative to ("" without any).

    A folder source: the folder. A CSV or list file: its own folder when every local path lies
    under it (the usual layout, a CSV beside its images: paths then read as the CSV wrote
    them, e.g. "images/cat.jpg"), else the deepest folder that holds them all (a CSV naming
    absolute paths elsewhere); "" when they share nothing but the filesystem root (each is
    then shown by its file name, index/source_paths.py).
    """
    if source.is_dir():
        return str(source.resolve())
    base = PurePath(source.resolve().parent)
    files = [path for path in map(local_file, urls) if path is not None]
    if not files:
        return ""
    if all(path.is_relative_to(base) for path in files):
        return str(base)
    common = common_folder(urls)
    return "" if common is None else str(common)


def resolve_reference(value: str, base: Path) -> str:
    """URLs stay as given; a relative local path becomes absolute against ``base``."""
    if not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())

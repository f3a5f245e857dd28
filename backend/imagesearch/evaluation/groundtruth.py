"""Ground truth for evaluation: captions and class labels, keyed like the index's sources.

Images are named the way ``sources.py`` names them when indexing (URL as given, relative paths
resolved against the file's folder), then reduced to a key by ``source_key`` so ``file://`` URLs,
symlinks and ``..`` segments on either side still match.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

from imagesearch.errors import SourceError
from imagesearch.ingest.sources import detect_url_column, read_folder, resolve_reference
from imagesearch.ingest.tables import CAPTION_COLUMN_CANDIDATES, find_column, read_table, require_column

logger = logging.getLogger(__name__)

LABEL_COLUMN_CANDIDATES = ("label", "class", "category")


@dataclass(frozen=True)
class GroundTruth:
    captions: list[tuple[str, str]] = field(default_factory=list)  # (image key, caption), one per query
    labels: dict[str, str] = field(default_factory=dict)  # image key -> class name


@dataclass(frozen=True)
class Columns:
    """CSV column names; None means detected from the header."""

    image: str | None = None
    caption: str | None = None
    label: str | None = None


def source_key(source: str) -> str:
    """Comparable form of an image reference: remote URLs as given, local files as a real path."""
    parsed = urlparse(source)
    if parsed.scheme.lower() == "file":
        return str(Path(unquote(parsed.path)).resolve())
    if "://" in source:
        return source
    return str(Path(source).expanduser().resolve())


def load_ground_truth(captions: Path | None, labels: Path | None, columns: Columns) -> GroundTruth:
    """Read the captions file and the labels (folder or CSV).

    Without ``labels``, a label column in the captions file (if any) supplies the classes.
    """
    caption_rows: list[tuple[str, str]] = []
    label_map: dict[str, str] = {}
    if captions is not None:
        table = _read_table(captions)
        caption_rows = _captions_from(table, captions, columns)
        if labels is None and find_column(table, captions, columns.label, LABEL_COLUMN_CANDIDATES):
            label_map = _labels_from(table, captions, columns)
    if labels is not None:
        label_map = (
            labels_from_folders(labels)
            if labels.is_dir()
            else _labels_from(_read_table(labels), labels, columns)
        )
    return GroundTruth(captions=caption_rows, labels=label_map)


def labels_from_folders(root: Path) -> dict[str, str]:
    """A folder per class: ``root/<class>/.../image.jpg`` -> class; files directly in root are skipped."""
    base = root.resolve()
    labels: dict[str, str] = {}
    for path_text in read_folder(root):
        parts = Path(path_text).relative_to(base).parts
        if len(parts) > 1:
            labels[source_key(path_text)] = parts[0]
    if not labels:
        raise SourceError(f"no class folders under {root}: expected {root}/<class>/<image>")
    return labels


def _captions_from(table: pd.DataFrame, path: Path, columns: Columns) -> list[tuple[str, str]]:
    image_column = columns.image or detect_url_column(list(table.columns))
    caption_column = _need_column(table, path, columns.caption, CAPTION_COLUMN_CANDIDATES)
    require_column(table, path, image_column)
    rows = [
        (source_key(resolve_reference(image.strip(), path.parent)), " ".join(caption.split()))
        for image, caption in zip(table[image_column], table[caption_column], strict=True)
        if image.strip() and caption.strip()
    ]
    if not rows:
        raise SourceError(f"{path} has no row with both an image and a caption")
    return rows


def _labels_from(table: pd.DataFrame, path: Path, columns: Columns) -> dict[str, str]:
    image_column = columns.image or detect_url_column(list(table.columns))
    label_column = _need_column(table, path, columns.label, LABEL_COLUMN_CANDIDATES)
    require_column(table, path, image_column)
    return {
        source_key(resolve_reference(image.strip(), path.parent)): label.strip()
        for image, label in zip(table[image_column], table[label_column], strict=True)
        if image.strip() and label.strip()
    }


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise SourceError(f"ground-truth file not found: {path}")
    return read_table(path)


def _need_column(table: pd.DataFrame, path: Path, given: str | None, candidates: Sequence[str]) -> str:
    column = find_column(table, path, given, candidates)
    if column is None:
        raise SourceError(
            f"none of the columns {', '.join(candidates)} found among {', '.join(map(str, table.columns))}; "
            "name the column with --caption-column / --label-column"
        )
    return column

"""How a local file's ``source`` is shown to API clients: relative to the indexed folder.

The index stores local sources as absolute paths (the API serves them whatever its working
directory); showing those would tell every client how the server's disk is laid out. The
manifest records the folder they are shown relative to (``source_root``, see
``ingest/sources.source_root``); an index built before it was recorded uses the deepest folder
holding every local source. A path outside that folder, or a collection with no folder in common
but the filesystem root, is shown by its file name alone: the shown path never starts at the
root and never climbs out of the folder. URLs (http, https, ...) are shown as stored.
"""

from __future__ import annotations

import os.path
from collections.abc import Iterable
from pathlib import PurePath
from urllib.parse import unquote, urlparse


def local_file(source: str) -> PurePath | None:
    """The file a source names (a plain path or a file: URL), normalised; None for other URLs."""
    parsed = urlparse(source)
    if parsed.scheme.lower() == "file":
        return PurePath(os.path.normpath(unquote(parsed.path)))
    if "://" in source or not source:
        return None
    return PurePath(os.path.normpath(source))


def common_folder(sources: Iterable[str]) -> PurePath | None:
    """The deepest folder holding every local source; None without any, or when it is the root."""
    folders = [path.parent for path in map(local_file, sources) if path is not None and path.is_absolute()]
    if not folders:
        return None
    try:
        common = PurePath(os.path.commonpath(folders))
    except ValueError:  # paths on different drives (Windows)
        return None
    return None if common == PurePath(common.anchor) else common


def display_root(sources: Iterable[str], recorded: str) -> PurePath | None:
    """The folder local sources are shown relative to: the manifest's, else their common folder."""
    return PurePath(os.path.normpath(recorded)) if recorded else common_folder(sources)


def relative_source(source: str, root: PurePath | None) -> str:
    """``source`` as clients see it: relative to ``root`` ('/'-separated), or its file name."""
    path = local_file(source)
    if path is None:
        return source
    if root is not None and root != PurePath(root.anchor) and path.is_relative_to(root) and path != root:
        return path.relative_to(root).as_posix()
    return path.name

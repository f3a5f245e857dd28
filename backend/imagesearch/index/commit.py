"""One atomic commit of several files in a data folder (index, URL list, captions, metadata, manifest).

Each file is written to a temp file beside its target and fsynced (a writer callback lets FAISS
write straight to its file, never as one in-memory copy); then a small journal naming the temp
files is written atomically (the commit point); then the temp files are renamed over the targets
and the journal is removed. A crash before the commit point leaves the previous set untouched (the
orphaned temp files are removed later); a crash after it is rolled forward by ``recover`` on the
next load or save, so readers never see a mix of two builds.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType

from imagesearch.errors import IndexLoadError
from imagesearch.files import file_sha256, fsync_dir, write_bytes_atomic

JOURNAL_NAME = ".commit-journal.json"
FileData = bytes | Callable[[Path], None]  # the bytes, or a writer given the temp file's path


class StagedCommit:
    """Files staged for one commit in ``data_dir``; ``commit()`` makes them current together.

    Used as a context manager: leaving it by an exception before ``commit()`` removes what was
    staged, so the previous set stays as it was.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.staged: dict[Path, Path] = {}

    def stage(self, target: Path, data: FileData) -> None:
        self.staged[target] = stage_file(target, data)

    def size(self, target: Path) -> int:
        """Bytes staged for ``target``."""
        return self.staged[target].stat().st_size

    def checksums(self) -> dict[str, str]:
        """sha256 of every staged file, by its path relative to the data folder."""
        return {
            str(target.relative_to(self.data_dir)): file_sha256(tmp) for target, tmp in self.staged.items()
        }

    def commit(self) -> None:
        journal = {str(target.relative_to(self.data_dir)): tmp.name for target, tmp in self.staged.items()}
        write_bytes_atomic(self.data_dir / JOURNAL_NAME, json.dumps(journal).encode())
        self.staged = {}
        recover(self.data_dir, ())

    def __enter__(self) -> StagedCommit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, trace: TracebackType | None
    ) -> None:
        for tmp in self.staged.values():  # not committed: the previous set stays as it was
            tmp.unlink(missing_ok=True)
        self.staged = {}


def stage_file(target: Path, data: FileData) -> Path:
    """Write ``data`` to a durable temp file beside ``target``; returns the temp file's path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".staged", dir=target.parent)
    try:
        if isinstance(data, bytes):
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        else:
            os.close(fd)
            data(Path(name))
        with Path(name).open("rb") as written:
            os.fsync(written.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def recover(data_dir: Path, orphans_of: Iterable[Path]) -> None:
    """Finish a commit whose journal exists; drop temp files of the ``orphans_of`` targets
    (relative paths) that no journal names: a commit that never happened.

    Readers pass no targets: staged files without a journal may belong to a build still running.
    """
    journal_path = data_dir / JOURNAL_NAME
    if journal_path.is_file():
        try:
            journal: dict[str, str] = json.loads(journal_path.read_bytes())
            for target_name, tmp_name in journal.items():
                target = data_dir / target_name
                staged = target.parent / tmp_name
                if staged.is_file():
                    staged.replace(target)
                    fsync_dir(target.parent)
            journal_path.unlink(missing_ok=True)
        except (OSError, ValueError) as exc:
            raise IndexLoadError(f"cannot finish the interrupted index write in {data_dir}: {exc}") from exc
    for relpath in orphans_of:
        for orphan in (data_dir / relpath).parent.glob(f".{relpath.name}.*.staged"):
            orphan.unlink(missing_ok=True)

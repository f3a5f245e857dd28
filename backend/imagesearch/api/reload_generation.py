"""The reload generation the workers of one server share: a counter in a file of their run folder.

``POST /admin/reload`` reaches one worker. When that worker has loaded and swapped in the new
index, it adds one to the generation; every worker reads the number every ``POLL_S`` seconds (a
read of a few bytes) and, when it changed, reloads the index in the data folder itself. Bumps
are serialised by an advisory lock (POSIX), so two reloads landing on two workers at once give
two generations (and every worker ends on the newer files), never one.
"""

from __future__ import annotations

import sys
from pathlib import Path

from imagesearch.files import write_bytes_atomic

if sys.platform != "win32":  # POSIX advisory locks; Windows has none of these (nor SIGHUP)
    import fcntl

POLL_S = 0.5
FILE_NAME = "reload-generation"


class ReloadGeneration:
    """Read and advance the generation in ``run_dir``; 0 before the first reload."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / FILE_NAME
        self._lock_path = run_dir / f".{FILE_NAME}.lock"

    def read(self) -> int:
        try:
            return int(self.path.read_text() or 0)
        except FileNotFoundError:
            return 0
        except ValueError:  # not ours: treat as unset; the next bump writes a number again
            return 0

    def bump(self) -> int:
        """Add one (the file is replaced whole: readers see the old number or the new one)."""
        with self._lock_path.open("a") as lock:
            if sys.platform != "win32":
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            generation = self.read() + 1
            write_bytes_atomic(self.path, f"{generation}\n".encode())
        return generation

"""What a live process holds, read from outside it (Linux /proc): its mapped files and RSS."""

from __future__ import annotations

from pathlib import Path


def mapped_files(pid: int) -> set[str]:
    """Every file mapped into the process, its shared libraries among them."""
    fields = [line.split(maxsplit=5) for line in Path(f"/proc/{pid}/maps").read_text().splitlines()]
    return {parts[5] for parts in fields if len(parts) == 6}


def rss_bytes(pid: int) -> int:
    """Resident set size of the process (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for process {pid}")

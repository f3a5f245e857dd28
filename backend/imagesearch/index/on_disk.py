"""Inverted lists on disk, for a first stage whose codes exceed RAM (FAISS's OnDiskInvertedLists).

A two-stage index whose first stage is 8-bit PQ (``OPQ{m},IVF{nlist},PQ{m},RFlat``) built by
streaming when even the smallest code the chooser allows is over the memory budget
(``factory.lists_merged_on_disk``) keeps its inverted lists, codes and ids, in a file of their
own (``LISTS_RELPATH``): RAM holds the centroids and each list's offset, and a search reads
the pages of the lists it probes.

Built the way FAISS's tracker and ``faiss.contrib.ondisk`` advise: in memory one shard of rows at
a time (each added with its global ids and written to its own file), then merged on disk into the
one lists file; the RAM needed is one shard's codes, whatever the collection's size. FAISS stores
the lists file's name in the index file as given and opens it relative to the working directory
at load: here the index file names it by its bare file name and is read with
``IO_FLAG_ONDISK_SAME_DIR`` (the index file's folder), so a data folder can be moved, archived
or served from any working directory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from faiss.contrib.ondisk import merge_ondisk

from imagesearch.vectors import FloatArray


def add_on_disk(trained: Any, vectors: FloatArray, chunk_rows: int, lists_file: Path) -> Any:
    """``trained`` (an empty trained IVF index) filled with ``vectors`` (n, d) float32 (a
    memory map will do), its inverted lists merged into ``lists_file``: shard by shard of
    ``chunk_rows`` rows, built in RAM and written beside ``lists_file``, then merged on disk."""
    lists_file.parent.mkdir(parents=True, exist_ok=True)
    lists_file.unlink(missing_ok=True)  # a merge appends to what it finds
    with tempfile.TemporaryDirectory(dir=lists_file.parent, prefix=".lists-shards-") as shards_dir:
        shards = []
        for number, start in enumerate(range(0, len(vectors), chunk_rows)):
            shard = faiss.clone_index(trained)
            block = np.ascontiguousarray(vectors[start : start + chunk_rows], dtype=np.float32)
            shard.add_with_ids(block, np.arange(start, start + len(block), dtype=np.int64))
            path = Path(shards_dir) / f"shard-{number:06d}.faiss"
            faiss.write_index(shard, str(path))
            shards.append(str(path))
            del shard
        merge_ondisk(trained, shards, str(lists_file))
    return trained


def lists_of(index: Any) -> Any:
    """The OnDiskInvertedLists of an IVF ``index``, or None (lists in RAM, or no IVF)."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is None:
        return None
    stored: Any = ivf.invlists
    lists = faiss.downcast_InvertedLists(stored)
    return lists if isinstance(lists, faiss.OnDiskInvertedLists) else None


def index_writer(index: Any, lists_name: str) -> Callable[[Path], None]:
    """A writer of ``index`` (its lists on disk) whose file names its lists file ``lists_name``,
    a bare file name in the same folder (FAISS would store the path it was built with)."""
    lists = lists_of(index)

    def write(path: Path) -> None:
        built_as = lists.filename
        lists.filename = lists_name
        try:
            faiss.write_index(index, str(path))
        finally:
            lists.filename = built_as

    return write


# FAISS's read flags for the index file of a first stage with its lists on disk: the lists file
# it names is looked for beside it. Not with IO_FLAG_MMAP_IFC (FAISS resolves that only reading
# through a plain file), nor IO_FLAG_MMAP (it leaves such lists unmapped: searches crash). An
# index of the same kind built in RAM holds its lists in its index file and is read as any other.
READ_FLAGS = faiss.IO_FLAG_ONDISK_SAME_DIR

"""The indexed sources in id order, packed: what a loaded index holds of ``image_urls.pkl``.

A Python list of 10M short strings costs about 70 bytes an entry (a pointer and a str object each),
700 MB at the scale the two-stage index serves in 1.5 GB (bench/RESULTS.md, Scale). Packed into one
UTF-8 byte string and an int64 end offset per source, it costs the characters and 8 bytes: the
file format stays the seed's plain pickle of a list of str, only the copy in RAM is packed.
Sources are decoded on access (a search decodes its k results). Lone surrogates (file names that
are not valid UTF-8, as ``os.fsdecode`` gives them) survive the round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import overload

import numpy as np

_CHUNK = 65_536  # sources encoded at once while packing (bounds the transient bytes objects)
_ERRORS = "surrogatepass"


class UrlList(Sequence[str]):
    """An immutable sequence of str, stored as one byte string and the end offset of each."""

    __slots__ = ("_data", "_ends")

    def __init__(self, urls: Iterable[str] = ()) -> None:
        blocks: list[bytes] = []
        ends: list[np.ndarray] = []
        done = 0
        iterator = iter(urls)
        while chunk := [url.encode("utf-8", _ERRORS) for url in islice(iterator, _CHUNK)]:
            lengths = np.fromiter((len(item) for item in chunk), dtype=np.int64, count=len(chunk))
            ends.append(done + np.cumsum(lengths))
            done = int(ends[-1][-1])
            blocks.append(b"".join(chunk))
        self._data = b"".join(blocks)
        self._ends = np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ends)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self._decode(row) for row in range(*index.indices(len(self)))]
        row = index + len(self) if index < 0 else index
        if not 0 <= row < len(self):
            raise IndexError(f"source {index} of {len(self)}")
        return self._decode(row)

    def __iter__(self) -> Iterator[str]:
        return (self._decode(row) for row in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str) or not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # equal to lists, which are unhashable

    def __repr__(self) -> str:
        return f"UrlList({len(self)} sources, {len(self._data)} bytes)"

    @property
    def nbytes(self) -> int:
        """Bytes of the packed sources and their offsets."""
        return len(self._data) + int(self._ends.nbytes)

    def _decode(self, row: int) -> str:
        start = int(self._ends[row - 1]) if row else 0
        return self._data[start : int(self._ends[row])].decode("utf-8", _ERRORS)

"""Bounded, thread-safe LRU caches: query vectors (skip the encoder) and result pages (skip all).

Both live in a ``Searcher``, which is built for one loaded index, so a reload (a new index)
starts with empty caches and never answers from the previous index.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

import numpy as np

from imagesearch.vectors import FloatArray

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    """At most ``capacity`` entries, least recently used evicted first; ``capacity`` 0: off."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


class VectorCache(LruCache[tuple[str, str], FloatArray]):
    """(encoder id, normalised query) -> a read-only (1, dim) float32 vector.

    Entries are exactly what the encoder returned, so a hit gives the same ranking as a miss.
    """

    def put(self, key: tuple[str, str], value: FloatArray) -> None:
        stored = np.array(value, dtype=np.float32)  # a private copy nobody can change
        stored.flags.writeable = False
        super().put(key, stored)

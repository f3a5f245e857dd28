"""A bounded, thread-safe LRU cache of query vectors (repeated searches skip the encoder)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from imagesearch.encoder import FloatArray


class VectorCache:
    """Maps a key (e.g. encoder id + normalised query) to a read-only (1, dim) float32 vector.

    Entries are exactly what the encoder returned, so a hit gives the same ranking as a miss.
    ``capacity`` 0 disables the cache.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, str], FloatArray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, str]) -> FloatArray | None:
        with self._lock:
            vector = self._items.get(key)
            if vector is not None:
                self._items.move_to_end(key)
            return vector

    def put(self, key: tuple[str, str], vector: FloatArray) -> None:
        if self.capacity <= 0:
            return
        stored = np.array(vector, dtype=np.float32)  # a private copy nobody can change
        stored.flags.writeable = False
        with self._lock:
            self._items[key] = stored
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

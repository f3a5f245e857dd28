"""The optional per-client request limit (``IMAGESEARCH_RATE_LIMIT``), on the ``limits`` library.

The limits library (the one slowapi and Flask-Limiter are built on) parses the notation
("120/minute", "10/second;500/hour") and keeps a moving window per client: at most N requests
in any span of the period, with no burst at a fixed window's edge. The storage is its in-memory
one, so the count is per process: with ``--workers N`` a client may get up to N times the limit,
spread over the workers (docs/deployment.md).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter


@dataclass(frozen=True)
class Wait:
    """A refused request: how long until the client may send the next one, and why."""

    retry_after_s: int
    message: str


class ClientRateLimit:
    """Counts each client's requests against every limit of ``spec``."""

    def __init__(self, spec: str) -> None:
        self.items: list[RateLimitItem] = parse_many(spec)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def hit(self, client: str) -> Wait | None:
        """Count one request of ``client``: None when it is within every limit, else the wait."""
        for item in self.items:
            if not await self._limiter.hit(item, client):
                stats = await self._limiter.get_window_stats(item, client)
                # Whole seconds (Retry-After has no fractions), rounded up so a retry then succeeds.
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                return Wait(retry, f"too many requests from this client (limit: {item}); retry in {retry} s")
        return None

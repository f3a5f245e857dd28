"""Is this worker ready for traffic: loaded and warm, not reloading, not draining.

uvicorn runs the lifespan (loading the encoder and the index, warming the query towers) before it
opens the socket, so while starting nothing answers at all; what a client can see is the rest:
``reloading`` while a new index loads beside the one serving (searches are still answered), and
``draining`` from SIGTERM until the socket closes (``IMAGESEARCH_DRAIN_S``: a load balancer that
polls ``/health/ready`` takes the server out while it still answers). uvicorn then stops
accepting connections and waits for the requests in flight before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, Literal

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

State = Literal["starting", "ready", "reloading", "draining"]


class LiveResponse(BaseModel):
    status: Literal["live"] = "live"
    pid: int = Field(description="the worker process that answered (tells the workers of one server apart)")


class ReadyResponse(BaseModel):
    status: State = Field(description="ready (200); starting, reloading or draining (503)")
    images: int | None = Field(default=None, description="images in the index this worker serves")


class Readiness:
    """Thread-safe: reloads run in the thread pool, probes on the event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._reloads = 0
        self._draining = False

    @property
    def state(self) -> State:
        with self._lock:
            if self._draining:
                return "draining"
            if not self._loaded:
                return "starting"
            return "reloading" if self._reloads else "ready"

    def loaded(self) -> None:
        """The index and the query towers are loaded and warm."""
        with self._lock:
            self._loaded = True

    def drain(self) -> None:
        with self._lock:
            self._draining = True

    @contextlib.contextmanager
    def reloading(self) -> Iterator[None]:
        with self._lock:
            self._reloads += 1
        try:
            yield
        finally:
            with self._lock:
                self._reloads -= 1


SignalHandler = Callable[[int, FrameType | None], Any]


class Drain:
    """SIGTERM: not ready at once, then after ``seconds`` hand the signal to uvicorn's handler.

    Installed only with ``seconds > 0`` and where uvicorn has a SIGTERM handler in this thread
    (not in a test client); a second SIGTERM ends the drain at once.
    """

    def __init__(self, readiness: Readiness, seconds: float) -> None:
        self.readiness = readiness
        self.seconds = seconds
        self._uvicorn: SignalHandler | None = None
        self._timer: asyncio.TimerHandle | None = None

    def install(self) -> None:
        previous = signal.getsignal(signal.SIGTERM)
        if self.seconds <= 0 or not callable(previous):
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self._on_sigterm)
            self._uvicorn = previous

    def remove(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._uvicorn is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)
                signal.signal(signal.SIGTERM, self._uvicorn)  # asyncio left SIG_DFL

    def _on_sigterm(self) -> None:
        if self._timer is not None:  # the second one: stop now
            self._timer.cancel()
            self._stop()
            return
        self.readiness.drain()
        logger.info("SIGTERM: not ready; serving %g s more before closing the socket", self.seconds)
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._stop)

    def _stop(self) -> None:
        if self._uvicorn is not None:
            self._uvicorn(signal.SIGTERM, None)

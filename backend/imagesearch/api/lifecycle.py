"""What a serving process does between loading its index and exiting.

Once the lifespan has loaded and warmed the encoder and the index: publish what it serves, say
it is ready, reload on SIGHUP, follow the reloads of sibling workers, drain on SIGTERM. On the
way out: not ready, stop following, and drop this worker's live gauges from the shared metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from imagesearch.api.readiness import Drain, Readiness
from imagesearch.api.reload import Reloader
from imagesearch.api.reload_generation import ReloadGeneration
from imagesearch.api.workers import SERVING, ServingProcess, mark_exited
from imagesearch.config import Settings


class WorkerLifecycle:
    """The readiness, reloader and drain of one app, and the part of the lifespan they need."""

    def __init__(self, settings: Settings, process: ServingProcess = SERVING) -> None:
        self.process = process
        self.readiness = Readiness()
        generation = ReloadGeneration(process.run_dir) if process.run_dir is not None else None
        self.reloader = Reloader(settings, self.readiness, generation)
        self.drain = Drain(self.readiness, settings.drain_s)

    @contextlib.asynccontextmanager
    async def running(self, app: FastAPI) -> AsyncIterator[None]:
        """Enter after the index and the towers are loaded and warm; exit on shutdown."""
        self.reloader.started(app)
        self.readiness.loaded()
        self.reloader.install_sighup(app)
        self.drain.install()
        follower = asyncio.create_task(self.reloader.follow(app))
        try:
            yield
        finally:
            self.readiness.drain()
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            self.drain.remove()
            self.reloader.remove_sighup()
            mark_exited(self.process)

"""The HTTP API: the app and its lifespan (app.py), one router per resource (routes/), metrics.

Importing this package settles first whether this process shares its metrics with sibling
worker processes (``api/workers.py``): prometheus_client picks its mode when it is first imported,
so the choice is made here, before any module of the API imports the client.
"""

from imagesearch.api.workers import SERVING

__all__ = ["SERVING"]

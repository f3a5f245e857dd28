"""The API's routes, one module per resource; ``build_routers`` gives them to the app in order."""

from fastapi import APIRouter

from imagesearch.api.deps import SearchGate
from imagesearch.api.routes import embed, health, images, search, similar
from imagesearch.config import Settings


def build_routers(settings: Settings, gate: SearchGate) -> list[APIRouter]:
    """Every resource's router; the search gate is shared, so the concurrency limit is global."""
    return [
        health.build_router(settings),
        search.build_router(settings, gate),
        images.build_router(),
        similar.build_router(settings, gate),
        embed.build_router(settings, gate),
    ]

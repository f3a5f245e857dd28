"""GET /images/{id}: an indexed local image file (a redirect for a remote one), never a path."""

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse, Response

from imagesearch.api.deps import SearcherDep
from imagesearch.api.schemas import ErrorResponse
from imagesearch.errors import InvalidQueryError

_IMAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"image/*": {}}, "description": "the indexed image file"},
    307: {"description": "redirect to the original URL of a remote image"},
    404: {"model": ErrorResponse, "description": "no indexed local image with this id"},
    422: {"model": ErrorResponse, "description": "the id is not an integer"},
}


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/images/{image_id}", name="get_image", response_class=FileResponse, responses=_IMAGE_RESPONSES
    )
    def get_image(image_id: int, searcher: SearcherDep) -> Response:
        """Serve an indexed image by its id (never an arbitrary path)."""
        try:
            path = searcher.bundle.local_path(image_id)
        except InvalidQueryError as exc:
            if 0 <= image_id < searcher.size:
                return RedirectResponse(searcher.bundle.urls[image_id])
            raise HTTPException(status_code=404, detail=str(exc)) from exc
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"image {image_id} is no longer on disk")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})

    return router

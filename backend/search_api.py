"""FastAPI search service: ``cd backend && uvicorn search_api:app``.

Settings come from IMAGESEARCH_* environment variables (see README); the logic lives in the
``imagesearch`` package.
"""

import logging

from imagesearch.api.app import create_app

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

app = create_app()

"""Refuse oversized request bodies before they are read (pure ASGI, so nothing is buffered)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

# Multipart framing (boundaries, part headers, a top_k field) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class BodySizeLimit:
    """Answer 413 when a declared Content-Length exceeds the upload limit.

    The route still counts the bytes it reads, which covers chunked bodies without a length;
    this only stops clients that announce a huge body from making the server receive it.
    """

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body = max_upload_bytes + MULTIPART_OVERHEAD
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > self.max_body:
                await self._refuse(send, int(declared))
                return
        await self.app(scope, receive, send)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps(
            {"detail": f"the request is {size:,} bytes; uploads are limited to {self.max_upload_bytes:,}"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""Refuse oversized request bodies before they are read (pure ASGI)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Multipart framing (boundaries, part headers, a top_k field) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024
# JSON bodies carry images as base64 (4 bytes per 3) plus the other fields of the request.
JSON_OVERHEAD = 64 * 1024


def base64_size(size: int) -> int:
    return (size + 2) // 3 * 4


class BodySizeLimit:
    """Answer 413 when a body exceeds what one upload (raw or base64 in JSON) can need.

    A declared Content-Length is checked before anything is read. A body without one (chunked):
    multipart uploads are counted by the route as it reads them, so a slow upload never holds
    anything up here; any other body is read here, counting, up to the limit, then replayed.
    """

    def __init__(self, app: ASGIApp, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body = max(
            max_upload_bytes + MULTIPART_OVERHEAD, base64_size(max_upload_bytes) + JSON_OVERHEAD
        )
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit():
            if int(declared) > self.max_body:
                await self._refuse(send, f"the request is {int(declared):,} bytes")
                return
        elif not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            buffered = await self._read_bounded(receive)
            if buffered is None:
                await self._refuse(send, f"the request is over {self.max_body:,} bytes")
                return
            receive = _replay(buffered, receive)
        await self.app(scope, receive, send)

    async def _read_bounded(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            total += len(message.get("body", b""))
            if total > self.max_body:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, send: Send, what: str) -> None:
        body = json.dumps(
            {"detail": f"{what}; uploads are limited to {self.max_upload_bytes:,} bytes"}
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


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed

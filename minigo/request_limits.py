"""Limits on what one HTTP request may cost the server, enforced before Django parses it.

Three layers, outermost first:
- nginx (deploy/nginx/minigo.conf): `client_max_body_size` refuses an oversized body before
  it reaches daphne at all.
- daphne itself (`install_daphne_body_limit`): Twisted buffers a request body and, left to
  itself, parses multipart bodies into memory (about 14 times their size) before the ASGI
  application sees a byte. MiniGo's daphne requests skip that parsing (Django parses the
  body, streaming files to disk) and are refused with 413 as soon as the declared or
  received length passes the limit.
- `BodyLimitMiddleware` (ASGI): the same limit for any other ASGI server and for chunked
  bodies, counted as they stream in.

`RefuseNulMiddleware` (Django) answers a query string or form field holding a NUL byte with 400:
PostgreSQL cannot hold NUL in text, so a search for one would fail deep in the database.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

TOO_LARGE = {"code": "body_too_large", "detail": "the request body is too large"}


def _too_large_body(limit: int) -> bytes:
    return json.dumps({**TOO_LARGE, "max_bytes": limit}).encode()


class BodyLimitMiddleware:
    """ASGI: refuse an HTTP request whose body is (or turns out to be) over `max_bytes`."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    return await self._refuse(send)
        state = {"received": 0, "over": False, "started": False}

        async def counted_receive() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.max_bytes:
                    # Django stops reading the body at a disconnect and sends nothing.
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
        if state["over"] and not state["started"]:
            await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = _too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def install_daphne_body_limit(max_bytes: int) -> bool:
    """Make daphne's HTTP requests refuse bodies over `max_bytes` while they arrive, and never
    parse multipart bodies themselves. Returns False where daphne is not installed.

    daphne builds each request from the module-level `daphne.http_protocol.WebRequest`; a
    subclass put there applies to every connection the server accepts from then on (the
    application module is imported before daphne starts listening)."""
    try:
        from daphne import http_protocol
    except ImportError:
        return False
    if getattr(http_protocol.WebRequest, "minigo_max_body", None) is not None:
        http_protocol.WebRequest.minigo_max_body = max_bytes
        return True

    base = http_protocol.WebRequest

    class LimitedWebRequest(base):
        minigo_max_body = max_bytes

        def __init__(self, channel: Any, *args: Any, **kwargs: Any) -> None:
            # The body reaches Django untouched; only Twisted's own form parsing is skipped.
            kwargs["parsePOSTFormSubmission"] = False
            self._minigo_received = 0
            self._minigo_refused = False
            super().__init__(channel, *args, **kwargs)

        def gotLength(self, length: int | None) -> None:
            if length is not None and length > self.minigo_max_body:
                self._minigo_refuse()
                return
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            if self._minigo_refused:
                return
            self._minigo_received += len(data)
            if self._minigo_received > self.minigo_max_body:
                self._minigo_refuse()
                return
            super().handleContentChunk(data)

        def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
            if self._minigo_refused:
                return
            super().requestReceived(command, path, version)

        def _minigo_refuse(self) -> None:
            self._minigo_refused = True
            self.content = io.BytesIO()
            body = _too_large_body(self.minigo_max_body)
            transport = self.channel.transport
            transport.write(
                b"HTTP/1.1 413 Request Entity Too Large\r\n"
                b"Content-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body
            )
            log.warning("refused a request body over %d bytes", self.minigo_max_body)
            transport.loseConnection()

    http_protocol.WebRequest = LimitedWebRequest
    return True


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _has_nul(query: Any) -> bool:
    return any(
        "\x00" in key or any(isinstance(v, str) and "\x00" in v for v in values)
        for key, values in query.lists()
    )


class RefuseNulMiddleware:
    """Django: a NUL byte in the query string or in a form field is a clean 400, not a
    database error. (JSON bodies are checked by DRF's fields, which refuse NUL themselves.)"""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.META.get("QUERY_STRING", "") or _has_nul(request.GET):
            return _nul_refused("bad_query", "the query contains a NUL character")
        if request.method == "POST" and request.content_type in FORM_TYPES:
            if _has_nul(request.POST):
                return _nul_refused("bad_form", "a form field contains a NUL character")
        return self.get_response(request)


def _nul_refused(code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=400)

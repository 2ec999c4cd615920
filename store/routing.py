from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.urls import path

from store import consumers


def origin_allowed(origin: str, host: str) -> bool:
    """A browser's socket is allowed from this server's own origin only: the Origin's host
    and port are exactly the Host the socket was opened to (an allowed host), or the origin is
    listed in CSRF_TRUSTED_ORIGINS; the rule Django's CSRF check applies to forms. Matching
    the name alone would let any page served from `localhost` on another port (a developer's
    other app, a malicious local server) open a signed-in shopper's socket."""
    if not origin or not host:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return parts.netloc.lower() == host.lower()


class SameOriginValidator:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not origin_allowed(origin, host):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


def websocket_application() -> URLRouter:
    """Browsers authenticate by session cookie, so their socket must pass the Origin check
    (otherwise any site could open it with a shopper's cookie). Devices authenticate with a
    bearer token and send no Origin header, so their route sits outside that check."""
    return URLRouter(
        [
            path("ws/device/", consumers.DeviceConsumer.as_asgi()),
            path(
                "ws/live/",
                SameOriginValidator(AuthMiddlewareStack(consumers.LiveConsumer.as_asgi())),
            ),
        ]
    )

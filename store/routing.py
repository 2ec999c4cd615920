from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from store import consumers


def websocket_application() -> URLRouter:
    """Browsers authenticate by session cookie, so their socket must pass the Origin check
    (otherwise any site could open it with a shopper's cookie). Devices authenticate with a
    bearer token and send no Origin header, so their route sits outside that check."""
    return URLRouter(
        [
            path("ws/device/", consumers.DeviceConsumer.as_asgi()),
            path(
                "ws/live/",
                AllowedHostsOriginValidator(AuthMiddlewareStack(consumers.LiveConsumer.as_asgi())),
            ),
        ]
    )

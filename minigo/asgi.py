from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")
# Build the Django app (and its app registry) before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from minigo.embedded_beat import EmbeddedBeatMiddleware  # noqa: E402
from store.routing import websocket_application  # noqa: E402

application = EmbeddedBeatMiddleware(
    ProtocolTypeRouter({"http": django_asgi_app, "websocket": websocket_application()})
)

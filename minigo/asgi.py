from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")
# Build the Django app (and its app registry) before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from minigo.embedded_beat import EmbeddedBeatMiddleware  # noqa: E402
from minigo.request_limits import BodyLimitMiddleware, install_daphne_body_limit  # noqa: E402
from store.routing import websocket_application  # noqa: E402

# Under daphne, an oversized body is refused while it arrives, before Twisted buffers or
# parses it (see minigo/request_limits.py); other servers get the ASGI check below.
install_daphne_body_limit(settings.MINIGO["BODY_MAX_BYTES"])

application = EmbeddedBeatMiddleware(
    ProtocolTypeRouter(
        {
            "http": BodyLimitMiddleware(
                django_asgi_app, max_bytes=settings.MINIGO["BODY_MAX_BYTES"]
            ),
            "websocket": websocket_application(),
        }
    )
)

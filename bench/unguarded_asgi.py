"""MiniGo's ASGI application without its daphne body guard: the baseline bench/big_post.py
compares against (what one large POST cost daphne before the guard). Never serve with it."""

from __future__ import annotations

import minigo.request_limits

minigo.request_limits.install_daphne_body_limit = lambda max_bytes: False

from minigo.asgi import application  # noqa: E402

__all__ = ["application"]

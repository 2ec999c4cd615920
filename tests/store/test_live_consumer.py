"""/ws/live/: who hears what. Staff hear the whole store; a shopper hears only their own cart
and receipt; an outsider and anonymous visitors are refused; other sites cannot connect."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from store.consumers import LiveConsumer
from store.routing import websocket_application
from store.services.carts import cart_take
from store.services.visits import visit_close, visit_open

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _close_worker_connections():
    # Consumers reach the database from asgiref's worker thread; its connection must close
    # too, or PostgreSQL refuses to drop the test database at the end of the run.
    yield
    await sync_to_async(connections.close_all)()


async def live_socket(user):
    comm = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    comm.scope["user"] = user
    connected, code = await comm.connect()
    return comm, connected, code


async def test_a_shopper_hears_only_their_own_cart_and_receipt(
    store, shopper, other_shopper, manager
):
    theirs = await sync_to_async(lambda: visit_open(shopper=other_shopper)[0])()
    kit, ok_kit, _ = await live_socket(shopper.user)
    ana, ok_ana, _ = await live_socket(other_shopper.user)
    boss, ok_boss, _ = await live_socket(manager)
    assert ok_kit and ok_ana and ok_boss
    try:
        await sync_to_async(cart_take)(visit=theirs, product=store.cola, quantity=1, slot=store.a1)
        heard = await ana.receive_json_from(timeout=2)
        assert heard["event"] == "cart" and heard["data"]["items"] == 1
        seen = {(await boss.receive_json_from(timeout=2))["event"] for _ in range(2)}
        assert seen == {"cart", "stock"}
        await sync_to_async(visit_close)(visit=theirs)
        # "Finalising your receipt…" at once, then the receipt (no shelf has to report).
        assert (await ana.receive_json_from(timeout=2))["event"] == "visit_settling"
        assert (await ana.receive_json_from(timeout=2))["event"] == "receipt"
        assert await kit.receive_nothing(timeout=0.3)
    finally:
        for comm in (kit, ana, boss):
            await comm.disconnect()


async def test_an_outsider_and_anonymous_are_refused(outsider):
    comm, connected, code = await live_socket(outsider)
    assert (connected, code) == (False, 4403)
    comm, connected, code = await live_socket(AnonymousUser())
    assert (connected, code) == (False, 4401)


async def test_another_site_cannot_open_the_socket_with_a_shoppers_cookie(shopper):
    comm = WebsocketCommunicator(
        websocket_application(), "/ws/live/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await comm.connect()
    assert connected is False
    await comm.disconnect()


async def test_the_socket_answers_a_ping(shopper):
    comm, connected, _ = await live_socket(shopper.user)
    assert connected
    await comm.send_to(text_data="ping")
    assert await comm.receive_json_from(timeout=2) == {"event": "pong"}
    await comm.disconnect()

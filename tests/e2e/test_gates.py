"""Entry and exit through the device endpoint, with real JPEG frames of real faces: the path a
gate's Raspberry Pi takes (websocket → stored frame → task → faces → visits → greet)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from edge_agent import protocol
from minigo.asgi import application
from store.models import Frame, Receipt, Visit
from store.services import live
from store.services.carts import cart_take
from store.services.faces import face_consent_set, face_enrol
from tests.faces_support import fresh_gallery, jpeg, photo, real_faces, rgb_of  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("real_faces", "fresh_gallery"),
]
WAIT = 60  # seconds; face recognition on a busy CI machine


@database_sync_to_async
def enrol(shopper, name: str) -> None:
    face_consent_set(shopper=shopper, consent=True)
    assert face_enrol(shopper=shopper, images=[photo(name)], source="selfie").added == 1


async def gate(token: str) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(
        application, "/ws/device/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from(timeout=WAIT))["type"] == "config"
    return comm


async def send_frame(comm: WebsocketCommunicator, name: str, event_id: str) -> list[dict]:
    """Send one camera frame (the photo as a 640 px JPEG, like a gate camera's stream) and
    return the greet messages that came back with its ack."""
    data = protocol.encode_frame(
        event_id=event_id, ts=time.time(), jpeg=jpeg(rgb_of(name), max_side=640)
    )
    await comm.send_to(bytes_data=data)
    greets = []
    while True:
        msg = await comm.receive_json_from(timeout=WAIT)
        if msg["type"] == "greet":
            greets.append(msg)
        elif msg["type"] == "ack" and msg["event_id"] == event_id:
            break
        else:
            raise AssertionError(f"unexpected {msg}")
    # A greet is sent on commit by the worker and may trail the ack by a moment.
    await asyncio.sleep(0.2)
    while not await comm.receive_nothing(timeout=0.3):
        msg = await comm.receive_json_from()
        assert msg["type"] == "greet", msg
        greets.append(msg)
    return greets


async def test_a_shopper_walks_in_and_out_and_gets_the_receipt(store, shopper):
    await enrol(shopper, "obama.jpg")
    gate_in = await gate(store.tokens["gate-in"])
    greets = await send_frame(gate_in, "obama2.jpg", "in-1")
    visit = await Visit.objects.select_related("entry_device").aget(shopper=shopper)
    assert visit.status == "open" and visit.entry_device.device_id == "gate-in"
    assert visit.entry_method == "face"
    assert greets == [
        {
            "type": "greet",
            "v": protocol.VERSION,
            "name": "Kit",
            "visit": visit.pk,
            "kind": "entry",
            "method": "face",
            "text": "Welcome, Kit!",
        }
    ]
    # More frames of the same person walking in: no second visit, no second greeting.
    assert await send_frame(gate_in, "obama3.jpg", "in-2") == []
    assert await send_frame(gate_in, "obama2.jpg", "in-3") == []
    assert await Visit.objects.filter(shopper=shopper).acount() == 1
    frame = await Frame.objects.aget(event_id="in-2")
    assert frame.result["faces"][0]["outcome"] == "already_in" and frame.jpeg is None
    await gate_in.disconnect()

    await database_sync_to_async(cart_take)(
        visit=visit, product=store.cola, quantity=2, slot=store.a1
    )
    gate_out = await gate(store.tokens["gate-out"])
    (bye,) = await send_frame(gate_out, "obama-480p.jpg", "out-1")
    receipt = await Receipt.objects.aget(visit=visit)
    assert receipt.total == Decimal("3.00")
    assert bye["kind"] == "exit" and bye["name"] == "Kit" and bye["receipt"] == receipt.number
    await visit.arefresh_from_db()
    assert visit.status == "closed" and visit.exited_at is not None
    out_frame = await Frame.objects.aget(event_id="out-1")
    assert visit.exited_at == out_frame.captured_at  # the frame's time, not the worker's
    assert await send_frame(gate_out, "obama3.jpg", "out-2") == []
    assert await Receipt.objects.acount() == 1
    await gate_out.disconnect()


async def test_unknown_faces_go_to_the_managers_and_two_people_both_get_in(
    store, shopper, other_shopper
):
    layer = get_channel_layer()
    managers = await layer.new_channel()
    await layer.group_add(live.MANAGERS, managers)
    await enrol(shopper, "obama.jpg")
    gate_in = await gate(store.tokens["gate-in"])

    assert await send_frame(gate_in, "biden.jpg", "u-1") == []
    assert not await Visit.objects.aexists()
    events = []
    while not any(e["event"] == "unknown_face" for e in events):
        events.append(await asyncio.wait_for(layer.receive(managers), WAIT))
    unknown = next(e for e in events if e["event"] == "unknown_face")["data"]
    assert unknown["device"] == "gate-in" and unknown["count"] == 1 and unknown["at"]

    await enrol(other_shopper, "biden.jpg")
    greets = await send_frame(gate_in, "two_people.jpg", "two-1")
    assert sorted(g["name"] for g in greets) == ["Ana", "Kit"]
    opened = {v.shopper_id async for v in Visit.objects.filter(status="open")}
    assert opened == {shopper.pk, other_shopper.pk}
    await gate_in.disconnect()
    await layer.group_discard(live.MANAGERS, managers)

"""Device status, live config and the server's side of reconnects (in-process)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from django.utils import timezone

from edge_agent import protocol
from minigo.asgi import application
from store.consumers import LiveConsumer
from store.models import Device, ShelfEvent
from store.services.config import shelves_config_push
from store.services.devices import device_disconnected, device_touch

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(token: str) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, "/ws/device/", headers=[(b"authorization", f"Bearer {token}".encode())]
    )


async def _open(token: str) -> WebsocketCommunicator:
    comm = _connect(token)
    connected, _ = await comm.connect(timeout=10)
    assert connected
    assert (await comm.receive_json_from(timeout=10))["type"] == "config"
    return comm


def _event(event_id: str) -> str:
    return protocol.dumps(
        protocol.shelf_event(
            event_id=event_id, slot="A1", sensor="load_cell", before=700, after=350, ts=time.time()
        )
    )


async def _device(device_id: str = "shelf-1") -> Device:
    return await Device.objects.aget(device_id=device_id)


async def test_a_planogram_change_reaches_the_connected_shelf(store):
    comm = await _open(store.tokens["shelf-1"])
    store.a2.product = store.cola
    await database_sync_to_async(store.a2.save)()
    sent = await database_sync_to_async(shelves_config_push)(shelf_ids=[store.shelf.pk])
    assert sent == 1
    config = await comm.receive_json_from(timeout=10)
    assert config["type"] == "config" and config["v"] == protocol.VERSION
    assert [(s["slot"], s["sku"]) for s in config["slots"]] == [("A1", "COLA"), ("A2", "COLA")]
    await comm.disconnect()


async def test_a_product_change_reaches_the_shelves_holding_it(store):
    comm = await _open(store.tokens["shelf-1"])
    gate = await _open(store.tokens["gate-in"])
    store.chips.unit_weight_g = 50
    await database_sync_to_async(store.chips.save)()
    assert await database_sync_to_async(shelves_config_push)(product_ids=[store.chips.pk]) == 1
    config = await comm.receive_json_from(timeout=10)
    assert [s["unit_weight_g"] for s in config["slots"]] == [350.0, 50.0]
    assert await gate.receive_nothing(timeout=0.2)
    await comm.disconnect()
    await gate.disconnect()


async def test_the_managers_see_a_device_come_and_go(store, manager):
    dashboard = WebsocketCommunicator(LiveConsumer.as_asgi(), "/ws/live/")
    dashboard.scope["user"] = manager
    assert (await dashboard.connect(timeout=10))[0]
    comm = await _open(store.tokens["shelf-1"])
    await comm.send_to(
        text_data=protocol.dumps(protocol.hello(device="shelf-1", kind="shelf", software="t 1.2"))
    )
    await comm.receive_json_from(timeout=10)  # config again
    await comm.disconnect()
    data = []
    while not data or data[-1]["online"]:
        message = await dashboard.receive_json_from(timeout=10)
        assert message["event"] == "device"
        data.append(message["data"])
    await dashboard.disconnect()
    assert data[0]["online"] is True and data[-1]["online"] is False
    assert any(d["software_version"] == "t 1.2" for d in data)


async def test_a_reconnect_replaces_the_old_socket_and_the_device_stays_online(store):
    old = await _open(store.tokens["shelf-1"])
    new = await _open(store.tokens["shelf-1"])
    closed = await old.receive_output(timeout=10)
    assert closed == {"type": "websocket.close", "code": protocol.CLOSE_SUPERSEDED}
    await old.disconnect()
    assert (await _device()).online
    await new.send_to(text_data=_event("e1"))
    assert (await new.receive_json_from(timeout=10))["status"] == "stored"
    await new.disconnect()
    assert not (await _device()).online


async def test_a_database_failure_is_a_transient_error_and_the_socket_stays_up(store, monkeypatch):
    from store.services import events

    real = events.event_store
    calls = []

    def flaky(**kw):
        calls.append(kw["msg"]["event_id"])
        if len(calls) == 1:
            raise OperationalError("could not connect to server")
        return real(**kw)

    monkeypatch.setattr(events, "event_store", flaky)
    comm = await _open(store.tokens["shelf-1"])
    await comm.send_to(text_data=_event("e1"))
    reply = await comm.receive_json_from(timeout=10)
    assert (reply["type"], reply["code"], reply["event_id"]) == ("error", "server_error", "e1")
    assert not protocol.is_permanent(reply["code"])
    await comm.send_to(text_data=_event("e1"))  # the agent sends it again
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()
    assert await ShelfEvent.objects.acount() == 1


async def test_a_heartbeat_is_answered_and_keeps_the_device_seen(store):
    comm = await _open(store.tokens["shelf-1"])
    before = (await _device()).last_seen
    await comm.send_to(text_data=protocol.dumps(protocol.heartbeat(ts=time.time())))
    assert (await comm.receive_json_from(timeout=10))["type"] == "heartbeat_ack"
    assert (await _device()).last_seen > before
    await comm.disconnect()


async def test_a_hello_from_another_device_is_refused(store):
    comm = await _open(store.tokens["shelf-1"])
    await comm.send_to(
        text_data=protocol.dumps(protocol.hello(device="gate-in", kind="entry", software="x"))
    )
    assert (await comm.receive_json_from(timeout=10))["code"] == protocol.BAD_MESSAGE
    await comm.disconnect()


def test_the_event_rate_is_per_minute_and_decays(store):
    device = store.shelf_device
    Device.objects.filter(pk=device.pk).update(last_seen=timezone.now() - timedelta(seconds=2))
    device_touch(device=device, events=20)
    assert device.event_rate_per_min == pytest.approx(20, abs=1)
    Device.objects.filter(pk=device.pk).update(last_seen=timezone.now() - timedelta(seconds=90))
    device_touch(device=device, events=0)
    assert device.event_rate_per_min == 0


def test_a_late_disconnect_does_not_mark_a_newer_connection_offline(store):
    device = store.shelf_device
    device_touch(device=device)
    old_activity = device.last_seen - timedelta(seconds=5)
    assert not device_disconnected(device=device, last_activity=old_activity)
    assert Device.objects.get(pk=device.pk).online
    assert device_disconnected(device=device, last_activity=device.last_seen)
    assert not Device.objects.get(pk=device.pk).online


def test_the_admin_shows_device_status(client, manager, store):
    Device.objects.filter(pk=store.shelf_device.pk).update(
        online=True, software_version="minigo-agent 9.9", event_rate_per_min=12.5
    )
    client.force_login(manager)
    page = client.get("/admin/store/device/").content.decode()
    assert "minigo-agent 9.9" in page and "12.5" in page


def test_saving_a_slot_in_the_admin_pushes_the_config(client, manager, store, monkeypatch):
    pushed = []
    monkeypatch.setattr(
        "store.services.live.to_device",
        lambda pk, kind, data: pushed.append((pk, kind, json.dumps(data))),
    )
    client.force_login(manager)
    response = client.post(
        f"/admin/store/slot/{store.a2.pk}/change/",
        {
            "shelf": store.shelf.pk,
            "code": "A2",
            "product": store.cola.pk,
            "sensor": "load_cell",
            "stock": 10,
            "capacity": 20,
            "low_stock_threshold": 3,
        },
    )
    assert response.status_code == 302
    assert [(pk, kind) for pk, kind, _ in pushed] == [(store.shelf_device.pk, "config")]
    assert '"sku": "COLA"' in pushed[0][2].split('"A2"')[1]


async def test_a_greeting_reaches_the_gate(store):
    from store.services import live

    gate = await _open(store.tokens["gate-in"])
    await database_sync_to_async(live.to_device)(store.gate_in.pk, "greet", {"name": "Kit"})
    assert await gate.receive_json_from(timeout=10) == protocol.greet("Kit")
    await gate.disconnect()


async def test_an_event_for_a_slot_removed_behind_the_devices_back_goes_to_review(store):
    from store.models import EventStatus, Slot

    comm = await _open(store.tokens["shelf-1"])
    # Removed without a config push: the connection still believes in A2.
    await Slot.objects.filter(pk=store.a2.pk).adelete()
    await comm.send_to(
        text_data=protocol.dumps(
            protocol.shelf_event(
                event_id="e-a2", slot="A2", sensor="load_cell", before=90, after=45, ts=time.time()
            )
        )
    )
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()
    event = await ShelfEvent.objects.aget(event_id="e-a2")
    assert event.status == EventStatus.REVIEW


async def test_a_slot_added_after_connecting_is_not_refused(store):
    from store.models import Slot

    comm = await _open(store.tokens["shelf-1"])
    await Slot.objects.acreate(shelf=store.shelf, code="B1", product=store.cola, stock=3)
    await comm.send_to(
        text_data=protocol.dumps(
            protocol.shelf_event(
                event_id="e-b1",
                slot="B1",
                sensor="load_cell",
                before=700,
                after=350,
                ts=time.time(),
            )
        )
    )
    assert (await comm.receive_json_from(timeout=10))["status"] == "stored"
    await comm.disconnect()

"""Hostile device input through the real consumer: every bad message gets an error with a
code, nothing stored changes, and the same connection still accepts a good event."""

from __future__ import annotations

import json
import time

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge_agent import protocol
from minigo.asgi import application
from store.models import CartEntry, Frame, ShelfEvent, Slot

pytestmark = pytest.mark.django_db(transaction=True)

junk_text = st.one_of(
    st.text(min_size=1, max_size=200),
    st.builds(
        json.dumps, st.dictionaries(st.text(max_size=8), st.integers() | st.text(), max_size=5)
    ),
    st.builds(
        lambda before, after, slot: json.dumps(
            {
                "type": "shelf_event",
                "v": 1,
                "event_id": "x",
                "slot": slot,
                "sensor": "load_cell",
                "before": before,
                "after": after,
                "ts": time.time(),
            }
        ),
        st.one_of(st.floats(-1e9, -0.001), st.just("4200"), st.none()),
        st.integers(0, 5000),
        st.text(max_size=3),
    ),
)
junk_bytes = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.builds(
        lambda b: protocol.encode_frame(event_id="f", ts=time.time(), jpeg=b),
        st.binary(max_size=200),
    ),
)


def _snapshot():
    return (
        ShelfEvent.objects.count(),
        Frame.objects.count(),
        CartEntry.objects.count(),
        sorted(Slot.objects.values_list("stock", flat=True)),
    )


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(texts=st.lists(junk_text, min_size=1, max_size=6), blobs=st.lists(junk_bytes, max_size=4))
def test_hostile_messages_get_codes_and_change_nothing(store, texts, blobs):
    before = _snapshot()

    async def run() -> list[dict]:
        comm = WebsocketCommunicator(
            application,
            "/ws/device/",
            headers=[(b"authorization", f"Bearer {store.tokens['shelf-1']}".encode())],
        )
        connected, _ = await comm.connect(timeout=10)
        assert connected
        await comm.receive_json_from(timeout=10)  # config
        replies = []
        for text in texts:
            await comm.send_to(text_data=text)
            replies.append(await comm.receive_json_from(timeout=5))
        for blob in blobs:
            await comm.send_to(bytes_data=blob)
            replies.append(await comm.receive_json_from(timeout=5))
        await comm.disconnect()
        return replies

    replies = async_to_sync(run)()
    for reply in replies:
        # A hostile message may happen to be a valid hello or heartbeat; nothing else passes.
        assert reply["type"] in ("error", "config", "heartbeat_ack"), reply
        if reply["type"] == "error":
            assert reply["code"] and reply["code"].replace("_", "").isalpha()
    assert _snapshot() == before

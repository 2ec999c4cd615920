"""Every URL and websocket route × every persona: anonymous, a shopper, another shopper, a
manager, an outsider (signed in, no shopper profile), a device and a revoked device.

The policy is written once, per route, as who may use it; the test derives what each persona
must get: allowed → the page, the data or a validation error; denied → a redirect to sign in,
403 or 404, and nothing stored changes."""

from __future__ import annotations

import io
import time

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client
from PIL import Image

from edge_agent import protocol
from minigo.asgi import application
from store.models import CartEntry, Receipt, ReviewItem, Slot, Visit
from store.services.carts import cart_take
from store.services.devices import device_revoke
from store.services.frames import frame_store
from store.services.review import review_open
from store.services.visits import visit_close, visit_open

PERSONAS = ["anon", "kit", "ana", "manager", "outsider", "device", "revoked"]
EVERYONE = set(PERSONAS)
SIGNED_IN = {"kit", "ana", "manager", "outsider"}
STAFF = {"manager"}
SHOPPERS = {"kit", "ana"}
KIT_AND_STAFF = {"kit", "manager"}
KIT = {"kit"}


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (9, 9, 9)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def world(store, shopper, other_shopper, manager, outsider, settings):
    """Kit (shopper) has a past visit with a receipt and is in the store again."""
    past, _ = visit_open(shopper=shopper)
    cart_take(visit=past, product=store.cola, quantity=1, slot=store.a1)
    receipt = visit_close(visit=past)
    current, _ = visit_open(shopper=shopper)
    review = review_open(reason="who_unknown", slot=store.a1, product=store.cola, quantity=1)
    frame, _ = frame_store(
        device=store.shelf_device,
        header={"event_id": "f1", "camera": "0", "seq": 1, "ts": time.time()},
        jpeg=_jpeg(),
        width=64,
        height=48,
    )
    settings.MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    (settings.MEDIA_ROOT / "product.jpg").write_bytes(_jpeg())
    revoked_token = store.tokens["gate-out"]
    device_revoke(device=store.gate_out)
    users = {
        "kit": shopper.user,
        "ana": other_shopper.user,
        "manager": manager,
        "outsider": outsider,
    }
    clients = {}
    for name in PERSONAS:
        c = Client()
        if name in users:
            c.force_login(users[name])
        elif name == "device":
            c.defaults["HTTP_AUTHORIZATION"] = f"Bearer {store.tokens['shelf-1']}"
        elif name == "revoked":
            c.defaults["HTTP_AUTHORIZATION"] = f"Bearer {revoked_token}"
        clients[name] = c
    return {
        "store": store,
        "receipt": receipt,
        "visit": current,
        "review": review,
        "frame": frame,
        "kit": shopper,
        "clients": clients,
    }


def read_routes(w) -> list[tuple[str, set[str]]]:
    s, r, v = w["store"], w["receipt"], w["visit"]
    return [
        ("/", EVERYONE),
        ("/healthz", EVERYONE),
        ("/accounts/login/", EVERYONE),
        ("/signup/", EVERYONE),
        ("/manifest.webmanifest", EVERYONE),
        ("/sw.js", EVERYONE),
        ("/api/schema/", EVERYONE),
        ("/api/docs/", EVERYONE),
        ("/accounts/password_change/", SIGNED_IN),
        ("/api/products/", SIGNED_IN),
        (f"/api/products/{s.cola.pk}/", SIGNED_IN),
        ("/api/visits/", SIGNED_IN),
        ("/api/receipts/", SIGNED_IN),
        ("/api/shelves/", STAFF),
        (f"/api/shelves/{s.shelf.pk}/", STAFF),
        ("/api/slots/", STAFF),
        (f"/api/slots/{s.a1.pk}/", STAFF),
        ("/api/stock/", STAFF),
        ("/api/review/", STAFF),
        ("/api/shoppers/", STAFF),
        ("/manager/", STAFF),
        ("/manager/state.json", STAFF),
        ("/manager/devices.json", STAFF),
        (f"/manager/frames/{w['frame'].pk}.jpg", STAFF),
        ("/manager/inventory/", STAFF),
        ("/manager/review/", STAFF),
        ("/manager/review.json", STAFF),
        ("/manager/kiosk/", STAFF),
        ("/manager/receipts/", STAFF),
        ("/manager/disputes/", STAFF),
        ("/manager/analytics/", STAFF),
        ("/manager/analytics.json", STAFF),
        ("/admin/", STAFF),
        ("/admin/store/faceembedding/", STAFF),
        ("/media/product.jpg", STAFF),
        (f"/api/visits/{v.pk}/", KIT_AND_STAFF),
        (f"/api/visits/{v.pk}/cart/", KIT_AND_STAFF),
        (f"/api/receipts/{r.pk}/", KIT_AND_STAFF),
        ("/api/me/consent/", SHOPPERS),
        ("/api/me/face/", SHOPPERS),
        ("/api/me/qr/", SHOPPERS),
        ("/app/", SHOPPERS),
        ("/app/state.json", SHOPPERS),
        ("/app/enrol/", SHOPPERS),
        ("/app/receipts/", SHOPPERS),
        (f"/app/receipts/{r.pk}/", KIT),
    ]


def write_routes(w) -> list[tuple[str, dict, set[str]]]:
    s, r, v = w["store"], w["receipt"], w["visit"]
    line = r.lines.first()
    return [
        (f"/api/slots/{s.a1.pk}/restock/", {"quantity": 1}, STAFF),
        ("/api/visits/admit/", {"shopper": w["kit"].pk}, STAFF),
        (f"/api/visits/{v.pk}/close/", {}, STAFF),
        (f"/api/review/{w['review'].pk}/resolve/", {"dismiss": True}, STAFF),
        (
            "/api/products/",
            {"sku": "NEW", "name": "New", "price": "1.00", "unit_weight_g": 10},
            STAFF,
        ),
        ("/api/shoppers/", {"username": "zed", "display_name": "Zed"}, STAFF),
        (f"/api/shoppers/{w['kit'].pk}/faces/", {}, STAFF),
        ("/manager/disputes/1/decide/", {"action": "reject"}, STAFF),
        (f"/app/receipts/{r.pk}/report/", {"line": line.pk, "message": "x", "quantity": 1}, KIT),
        ("/api/me/consent/", {"face": False}, SHOPPERS),
    ]


def _denied(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and ("/login/" in location)


def _state():
    return (
        CartEntry.objects.count(),
        Visit.objects.filter(status="open").count(),
        Receipt.objects.count(),
        ReviewItem.objects.filter(status="open").count(),
        sorted(Slot.objects.values_list("stock", flat=True)),
    )


def test_every_page_and_api_read_follows_the_policy(world):
    wrong = []
    for url, allowed in read_routes(world):
        for persona in PERSONAS:
            response = world["clients"][persona].get(url)
            denied = _denied(response)
            if (persona in allowed) == denied or response.status_code >= 500:
                wrong.append((url, persona, response.status_code))
    assert wrong == []


def test_every_write_is_refused_to_those_not_allowed_and_changes_nothing(world):
    wrong = []
    for url, data, allowed in write_routes(world):
        for persona in sorted(EVERYONE - allowed):
            before = _state()
            response = world["clients"][persona].post(url, data, content_type="application/json")
            if not _denied(response) or _state() != before:
                wrong.append((url, persona, response.status_code))
    assert wrong == []


def test_a_shopper_reads_only_their_own_receipt_contents(world):
    kit_receipt = world["receipt"]
    ana = world["clients"]["ana"]
    listing = ana.get("/api/receipts/").json()["results"]
    assert kit_receipt.number not in str(listing)
    page = ana.get(f"/app/receipts/{kit_receipt.pk}/")
    assert page.status_code == 404 and kit_receipt.number.encode() not in page.content


# --- websocket routes ----------------------------------------------------------------------


async def _try(path: str, headers: list[tuple[bytes, bytes]]) -> tuple[bool, int | None]:
    """(accepted, close code): a socket counts as accepted if it is open and not closing."""
    comm = WebsocketCommunicator(application, path, headers=headers)
    try:
        connected, code = await comm.connect()
        if not connected:
            return False, code
        while not await comm.receive_nothing(timeout=0.3):
            out = await comm.receive_output(timeout=3)
            if out.get("type") == "websocket.close":
                return False, out.get("code")
        return True, None
    finally:
        await comm.disconnect()


def _session_headers(user) -> list[tuple[bytes, bytes]]:
    c = Client()
    c.force_login(user)
    cookie = f"sessionid={c.cookies['sessionid'].value}".encode()
    return [(b"cookie", cookie), (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]


@pytest.mark.django_db(transaction=True)
async def test_websocket_routes_follow_the_policy(store, shopper, other_shopper, manager, outsider):
    from channels.db import database_sync_to_async

    sessions = {}
    for name, user in [
        ("kit", shopper.user),
        ("ana", other_shopper.user),
        ("manager", manager),
        ("outsider", outsider),
    ]:
        sessions[name] = await database_sync_to_async(_session_headers)(user)
    origin = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    device = [(b"authorization", f"Bearer {store.tokens['shelf-1']}".encode())]
    revoked_token = store.tokens["gate-out"]
    await database_sync_to_async(device_revoke)(device=store.gate_out)
    revoked = [(b"authorization", f"Bearer {revoked_token}".encode())]

    live = {name: (await _try("/ws/live/", hdrs))[0] for name, hdrs in sessions.items()}
    assert live == {"kit": True, "ana": True, "manager": True, "outsider": False}
    assert (await _try("/ws/live/", origin))[0] is False  # anonymous
    assert (await _try("/ws/live/", origin + device))[0] is False  # a device is no browser

    assert (await _try("/ws/device/", device)) == (True, None)
    assert (await _try("/ws/device/", revoked)) == (False, protocol.CLOSE_REVOKED_TOKEN)
    for name, hdrs in sessions.items():  # a browser session is no device
        assert (await _try("/ws/device/", hdrs)) == (False, protocol.CLOSE_UNKNOWN_TOKEN), name
    assert (await _try("/ws/device/", [])) == (False, protocol.CLOSE_UNKNOWN_TOKEN)


@pytest.mark.django_db(transaction=True)
async def test_a_shopper_socket_never_carries_another_shoppers_cart(store, shopper, other_shopper):
    from channels.db import database_sync_to_async

    kit_headers = await database_sync_to_async(_session_headers)(shopper.user)
    comm = WebsocketCommunicator(application, "/ws/live/", headers=kit_headers)
    assert (await comm.connect())[0]

    def ana_takes():
        visit, _ = visit_open(shopper=other_shopper)
        cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)

    await database_sync_to_async(ana_takes)()
    assert await comm.receive_nothing(timeout=0.5)

    def kit_takes():
        visit, _ = visit_open(shopper=shopper)
        cart_take(visit=visit, product=store.chips, quantity=1, slot=store.a2)

    await database_sync_to_async(kit_takes)()
    events = []
    while not await comm.receive_nothing(timeout=0.5):
        events.append(await comm.receive_json_from())
    await comm.disconnect()
    carts = [e for e in events if e["event"] == "cart"]
    assert carts and all(e["data"]["shopper"] == shopper.pk for e in carts)

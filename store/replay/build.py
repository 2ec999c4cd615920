"""Building a scenario's store (products, shelves, slots, gates, shoppers with their faces) in
the current database, and the device messages its timeline turns into."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image

from edge_agent import protocol
from store.errors import DomainError
from store.models import AccountEntry, Device, Product, Shelf, Shopper, Slot, StorePolicy
from store.models.catalog import validate_reach
from store.replay.frames import sees_jpeg
from store.replay.scenario import Scenario, ScenarioError
from store.services.account_ledger import account_post
from store.services.devices import device_create, device_rotate_token
from store.services.faces import face_enrol
from store.services.groups import group_announce
from store.services.qr import qr_issue


@transaction.atomic
def build_store(scenario: Scenario, *, reuse: bool = False) -> dict[str, str]:
    """Create the scenario's store. Returns {device id: token}. With `reuse` (a demo server
    for `replay --server --setup`), objects that exist are kept and existing devices get a
    new token."""
    products = {}
    for p in scenario.store.get("products", []):
        defaults = {
            "name": p.get("name", p["sku"]),
            "price": Decimal(str(p.get("price", "1.00"))),
            "unit_weight_g": float(p.get("unit_weight_g", 100)),
            "weight_tolerance_g": float(p.get("weight_tolerance_g", 5)),
            "tax_rate": Decimal(str(p.get("tax_rate", "0"))),
            "age_restricted": bool(p.get("age_restricted", False)),
        }
        if p.get("no_sale"):
            defaults["no_sale_from"], defaults["no_sale_until"] = _hours(p["no_sale"], p["sku"])
        products[p["sku"]], _ = Product.objects.get_or_create(sku=p["sku"], defaults=defaults)
    accounts = scenario.store.get("accounts")
    if accounts:
        floor = accounts.get("floor")
        StorePolicy.objects.update_or_create(
            pk=1,
            defaults={
                "account_mode": accounts.get("mode", "tab"),
                "entry_floor": Decimal(str(floor)) if floor is not None else None,
            },
        )
    tokens = {}
    for dev in scenario.devices:
        existing = Device.objects.filter(device_id=dev["device"]).first()
        if existing is not None and reuse:
            tokens[dev["device"]] = device_rotate_token(device=existing)
        else:
            _, tokens[dev["device"]] = device_create(device_id=dev["device"], kind=dev["kind"])
    for s in scenario.store.get("shelves", []):
        device = Device.objects.get(device_id=s["device"])
        shelf, _ = Shelf.objects.get_or_create(
            device=device,
            defaults={"name": s.get("name", s["device"]), "has_camera": bool(s.get("camera"))},
        )
        for slot in s.get("slots", []):
            if slot["sku"] not in products:
                raise ScenarioError(f"slot {slot['slot']} holds unknown sku {slot['sku']}")
            reach = slot.get("reach")
            try:
                validate_reach(reach)
            except ValidationError:
                raise ScenarioError(
                    f"slot {slot['slot']}: reach must be [x1, x2] with 0 <= x1 < x2 <= 1"
                ) from None
            Slot.objects.get_or_create(
                shelf=shelf,
                code=slot["slot"],
                defaults={
                    "reach_from": reach[0] if reach else None,
                    "reach_to": reach[1] if reach else None,
                    "product": products[slot["sku"]],
                    "stock": int(slot.get("stock", 10)),
                    "capacity": max(int(slot.get("capacity", 24)), int(slot.get("stock", 10))),
                    "sensor": slot.get("sensor", "load_cell"),
                    "lane_depth_mm": slot.get("lane_depth_mm"),
                    "item_depth_mm": slot.get("item_depth_mm"),
                },
            )
    return tokens


def build_shoppers(scenario: Scenario, *, faces: bool = True) -> dict[str, Shopper]:
    """Create the scenario's shoppers (username = scenario id) and enrol their photos. A
    shopper line with `"face_consent": false` gets no consent: no camera can name them (a
    `sees` frame naming them counts as an unknown face), and they enter by QR code."""
    User = get_user_model()
    out = {}
    for line in scenario.shoppers:
        user, _ = User.objects.get_or_create(
            username=str(line["id"]), defaults={"email": f"{line['id']}@replay.invalid"}
        )
        shopper, _ = Shopper.objects.get_or_create(
            user=user,
            defaults={
                "display_name": line.get("name", str(line["id"])),
                "face_consent": line.get("face_consent", True) is not False,
                "email_receipts": False,
            },
        )
        out[str(line["id"])] = shopper
        if (
            line.get("balance") is not None
            and not AccountEntry.objects.filter(account__shopper=shopper).exists()
        ):
            balance = Decimal(str(line["balance"]))
            if balance:
                account_post(shopper=shopper, kind="adjustment", amount=balance, note="scenario")
        if line.get("age_verified") and shopper.age_verified_at is None:
            Shopper.objects.filter(pk=shopper.pk).update(age_verified_at=timezone.now())
        if faces and line.get("photos") and shopper.face_consent:
            images = [_read(scenario.base_dir, p) for p in line["photos"]]
            enrol_photos(shopper=shopper, images=images)
    return out


def _hours(value: Any, sku: str) -> tuple[time, time]:
    try:
        start, end = (time.fromisoformat(str(v)) for v in value)
    except (TypeError, ValueError):
        raise ScenarioError(f'{sku}: no_sale is ["HH:MM", "HH:MM"]') from None
    return start, end


def phone_action(line: dict[str, Any]) -> None:
    """A timed line from a shopper's phone ("group": the payer's +N), applied as the app's
    request would be."""
    shopper = Shopper.objects.filter(user__username=str(line["shopper"])).first()
    if shopper is None:
        raise ScenarioError(f"unknown shopper {line['shopper']!r} in a {line['type']} line")
    if line["type"] == "group":
        group_announce(shopper=shopper, companions=int(line.get("companions", 0)))


# The password every replayed shopper gets on a demo server (MINIGO_DEMO=true) only.
DEMO_SHOPPER_PASSWORD = "walk-out-demo"


def demo_passwords(shoppers: dict[str, Shopper]) -> list[str]:
    """Give the replayed shoppers the known demo password, so a person can sign in as one
    and watch their phone. Refused unless the server runs in demo mode."""

    if not settings.MINIGO.get("DEMO"):
        raise DomainError("not_demo", "known passwords are given only in demo mode (MINIGO_DEMO)")
    names = []
    for key, shopper in sorted(shoppers.items()):
        user = shopper.user
        user.set_password(DEMO_SHOPPER_PASSWORD)
        user.save(update_fields=["password"])
        names.append(key)
    return names


def enrol_photos(*, shopper: Shopper, images: list[bytes]) -> int:
    return face_enrol(shopper=shopper, images=images, source="kiosk").added


def qr_token(*, shopper: Shopper) -> str:
    """The shopper's signed entry code, as the shopper app shows it."""
    return qr_issue(shopper=shopper).token


def qr_jpeg(text: str) -> bytes:
    """A photo-like JPEG of a QR code held up to the gate camera."""
    import segno

    png = io.BytesIO()
    segno.make(text, error="m").save(png, kind="png", scale=8, border=4)
    img = Image.open(io.BytesIO(png.getvalue())).convert("RGB")
    canvas = Image.new("RGB", (max(640, img.width + 80), max(480, img.height + 80)), "white")
    canvas.paste(img, ((canvas.width - img.width) // 2, (canvas.height - img.height) // 2))
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=90)
    return out.getvalue()


def _read(base: Path, rel: str) -> bytes:
    path = (base / rel).resolve()
    if not path.is_file():
        raise ScenarioError(f"image {rel} not found next to the scenario")
    return path.read_bytes()


def _as_jpeg(data: bytes) -> bytes:
    if data[:3] == b"\xff\xd8\xff":
        return data
    img = Image.open(io.BytesIO(data))
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGB", img.size, "white")
        bg.paste(img, mask=img.split()[-1])
        img = bg
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=92)
    return out.getvalue()


def device_message(
    line: dict[str, Any],
    *,
    scenario: Scenario,
    ts: float,
    event_id: str,
    shopper: Callable[[str], Shopper | None],
) -> tuple[str, str | bytes]:
    """The websocket message a device sends for one timeline line: ("text", json) or
    ("bytes", frame). A QR scan shows the entry code of the shopper `shopper(name)` finds
    (the local replay knows its shoppers, the remote one asks the server's database), or a
    code no shopper has."""
    kind = line["type"]
    if kind in ("weight", "sensor"):
        # A load cell's line gives grams; another sensor's gives its own reading.
        if kind == "weight":
            sensor, before, after = "load_cell", line["before_g"], line["after_g"]
        else:
            sensor, before, after = line["sensor"], line["before"], line["after"]
        msg = {
            "type": "shelf_event",
            "v": protocol.VERSION,
            "event_id": event_id,
            "slot": line["slot"],
            "sensor": sensor,
            "before": before,
            "after": after,
            "ts": ts,
        }
        return "text", protocol.dumps(msg)
    if kind == "qr":
        found = shopper(str(line.get("shopper")))
        qr = qr_token(shopper=found) if found else "MG1:0:unknown"
        return "bytes", protocol.encode_frame(event_id=event_id, ts=ts, jpeg=qr_jpeg(qr))
    if "image" in line:
        jpeg = _as_jpeg(_read(scenario.base_dir, line["image"]))
        return "bytes", protocol.encode_frame(event_id=event_id, ts=ts, jpeg=jpeg)
    if "sees" in line:
        sees = json.loads(json.dumps(line["sees"]))
        return "bytes", protocol.encode_frame(event_id=event_id, ts=ts, jpeg=sees_jpeg(), sees=sees)
    raise ScenarioError(f"a frame needs image or sees: {line}")

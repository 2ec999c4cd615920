from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from minigo.trace import stamp, trace
from store.errors import DomainError
from store.models import Device, DeviceKind
from store.services import live
from store.services.settlement import settlement_watermark_moved

TOKEN_PREFIX = "mgd_"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def device_create(*, device_id: str, kind: str, name: str = "") -> tuple[Device, str]:
    """Register a device. Returns it with its token, which is shown once and never stored."""
    if kind not in DeviceKind.values:
        raise DomainError("bad_device_kind", f"kind must be one of {DeviceKind.values}")
    if Device.objects.filter(device_id=device_id).exists():
        raise DomainError("device_exists", f"a device called {device_id} exists")
    device = Device(device_id=device_id, kind=kind, name=name or device_id)
    token = _assign_token(device)
    device.save()
    return device, token


def _assign_token(device: Device) -> str:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    device.token_hash = _hash(token)
    device.token_prefix = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + 6]
    device.revoked_at = None
    return token


def device_rotate_token(*, device: Device) -> str:
    """Give the device a new token; the old one stops working at once."""
    token = _assign_token(device)
    device.save(update_fields=["token_hash", "token_prefix", "revoked_at"])
    live.to_device(device.pk, "revoked", {"reason": "token_rotated"})
    return token


def device_revoke(*, device: Device) -> Device:
    device.revoked_at = timezone.now()
    device.save(update_fields=["revoked_at"])
    # A connected device is cut off too, not only refused at its next connect.
    live.to_device(device.pk, "revoked", {"reason": "revoked"})
    return device


def device_authenticate(*, token: str) -> Device:
    """The device holding `token`. Raises `unknown_token` or `revoked_token`."""
    if not token:
        raise DomainError("unknown_token", "no device token given", status=401)
    device = Device.objects.filter(token_hash=_hash(token)).first()
    if device is None:
        raise DomainError("unknown_token", "no device has this token", status=401)
    if device.revoked_at is not None:
        raise DomainError("revoked_token", "this device's token was revoked", status=403)
    return device


def device_status_payload(*, device: Device) -> dict:
    return {
        "device": device.device_id,
        "pk": device.pk,
        "kind": device.kind,
        "online": device.online,
        "last_seen": device.last_seen.isoformat() if device.last_seen else None,
        "software_version": device.software_version,
        "event_rate_per_min": round(device.event_rate_per_min, 1),
    }


def device_set_online(*, device: Device, online: bool, software_version: str = "") -> Device:
    fields: dict = {"online": online, "last_seen": timezone.now()}
    if software_version:
        fields["software_version"] = software_version[:40]
    Device.objects.filter(pk=device.pk).update(**fields)
    for key, value in fields.items():
        setattr(device, key, value)
    live.to_managers("device", device_status_payload(device=device))
    return device


def device_touch(*, device: Device, events: int = 0) -> Device:
    """Record that the device is alive and pushes the status to the managers; `events` (the
    events received since the last touch) feeds the per-minute event rate. The rate decays
    linearly with the time since the last touch and adds the new events, so touching every
    few seconds with a batch gives the true per-minute rate at a steady pace and an idle
    device's rate falls to 0 within a minute of heartbeats. The device consumer batches its
    touches, so this is one small write every few seconds, not one per event."""
    now = timezone.now()
    with transaction.atomic():
        row = Device.objects.select_for_update().get(pk=device.pk)
        elapsed = (now - row.last_seen).total_seconds() if row.last_seen else 60.0
        decay = max(0.0, 1.0 - min(elapsed, 60.0) / 60.0)
        row.event_rate_per_min = row.event_rate_per_min * decay + events
        row.last_seen = now
        row.online = True
        row.save(update_fields=["last_seen", "online", "event_rate_per_min"])
        live.to_managers("device", device_status_payload(device=row))
    for key in ("last_seen", "online", "event_rate_per_min"):
        setattr(device, key, getattr(row, key))
    return device


def device_report_watermark(*, device: Device, epoch: float) -> datetime | None:
    """Record the device's watermark (a Unix time: everything it produced up to then has
    reached the server). It only moves forward and never past the server's clock. When it
    passes a leaving shopper's exit time, the settlement runs. Returns the recorded value."""

    now = timezone.now()
    at = min(datetime.fromtimestamp(epoch, tz=UTC), now)
    with transaction.atomic():
        row = Device.objects.select_for_update().only("watermark").get(pk=device.pk)
        previous = row.watermark
        if previous is None or at > previous:
            Device.objects.filter(pk=device.pk).update(watermark=at)
            device.watermark = at
            settlement_watermark_moved(previous=previous, now=at)
            trace("watermark", device=device.pk, at=stamp(at))
            return at
    return previous


def device_disconnected(*, device: Device, last_activity: datetime) -> bool:
    """A connection of the device closed. It shows offline only if nothing newer happened on
    the device since this connection's own last write: after a network drop the agent often
    reconnects before the server notices the old socket died, and that old socket's late
    disconnect must not mark the live new connection offline."""
    now = timezone.now()
    marked = Device.objects.filter(pk=device.pk, last_seen__lte=last_activity).update(
        online=False, last_seen=now
    )
    if marked:
        device.online, device.last_seen = False, now
        live.to_managers("device", device_status_payload(device=device))
    return bool(marked)


def device_mark_stale_offline() -> int:
    cutoff = timezone.now() - timedelta(seconds=settings.MINIGO["DEVICE_OFFLINE_AFTER_S"])
    stale = list(Device.objects.filter(online=True, last_seen__lt=cutoff))
    for device in stale:
        device_set_online(device=device, online=False)
        live.to_managers("device_offline", {"device": device.device_id})
    return len(stale)

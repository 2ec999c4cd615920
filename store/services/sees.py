"""Synthetic camera output for scenario replay ("sees" frames).

A replay drives large stores without pictures: a frame's header says what its camera's vision
would have found. This is accepted only when MINIGO["ACCEPT_SEES"] is on (the replay's own
temporary store, or a demo server started for `replay --server`); a production device can never
claim an identity. Scenario shopper ids are the shoppers' usernames."""

from __future__ import annotations

from typing import Any

from store.models import DeviceKind, Frame, Shopper
from store.services.entry import entry_admit
from store.services.groups import group_guests_seen
from store.services.visits import visit_at_exit, visit_close


def sees_name(item: Any) -> str:
    """A `sees` shopper entry is an id ("kit") or {"id": "kit", "x": 0.4} (x: where across
    the camera's view the face was, 0 left … 1 right; an extension for shelf cameras)."""
    if isinstance(item, dict):
        item = item.get("id")
    return str(item) if isinstance(item, str | int) else ""


def sees_shoppers(*, names: list[Any]) -> tuple[dict[str, Shopper], int]:
    """The shoppers named in a `sees` list, and how many names matched nobody (unknown
    faces). Only consenting shoppers can be named, as real vision matches only their
    embeddings: a face of anyone else is an unknown face."""
    wanted = [n for n in (sees_name(n) for n in names) if n]
    found = {
        s.user.username: s
        for s in Shopper.objects.select_related("user").filter(
            user__username__in=wanted, face_consent=True
        )
    }
    return found, sum(1 for n in wanted if n not in found)


def sees_gate_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    names = analysis["sees"].get("shoppers") or []
    shoppers, unknown = sees_shoppers(names=names if isinstance(names, list) else [])
    opened, closed, settling, refused = [], [], [], []
    entry = frame.device.kind == DeviceKind.ENTRY_GATE
    for shopper in shoppers.values():
        if entry:
            admission = entry_admit(
                shopper=shopper, device=frame.device, method="face", at=frame.captured_at
            )
            if admission.outcome == "visit_opened":
                opened.append(admission.visit.pk)
            elif admission.outcome == "refused":
                refused.append(shopper.pk)
        else:
            visit = visit_at_exit(shopper=shopper, at=frame.captured_at)
            if visit is not None:
                receipt = visit_close(visit=visit, device=frame.device, at=frame.captured_at)
                if receipt is None:
                    settling.append(visit.pk)
                else:
                    closed.append(receipt.pk)
    result = {
        "sees": names,
        "opened": opened,
        "receipts": closed,
        "settling": settling,
        "unknown_faces": unknown,
    }
    if refused:
        result["refused"] = refused
    if entry and unknown:
        guests = group_guests_seen(device=frame.device, at=frame.captured_at, count=unknown)
        if guests:
            result["guests"] = guests
    return result

"""Vision on gate frames: who walks in and out, by face or by QR code.

`gate_frame_analyse` runs outside any transaction (slow, no side effects): it finds and
identifies the faces against every enrolled shopper and reads the QR codes. `gate_frame_apply`
runs under the frame's row lock and writes: at the entry gate each identified shopper gets a
visit (visit_open is idempotent, so the dozen frames of one person walking in open one visit)
and the gate is told whom to greet; at the exit gate the visit closes and the receipt is
issued. Unknown faces open nothing and are reported to the managers live."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from store.models import DeviceKind, Frame, Shopper
from store.services import live
from store.services.entry import entry_admit
from store.services.faces import face_identify
from store.services.groups import group_guests_seen
from store.services.qr import qr_check
from store.services.visits import visit_at_exit, visit_close
from vision import faces as vf
from vision.qr import decode_qr

log = logging.getLogger(__name__)

# Below this a matched face is too doubtful to open or close a visit (two enrolled shoppers
# nearly equally close); it is reported like an unknown face instead. The same threshold
# names a shopper at a shelf (vision.faces.MATCH_CONFIDENCE documents the scale).
GATE_MIN_CONFIDENCE = vf.MATCH_CONFIDENCE
# QR codes are searched on a copy this wide at most: a phone held up to the gate camera shows
# a code large enough, and the search cost grows with the pixels.
QR_MAX_SIDE = 960


def gate_frame_analyse(*, frame: Frame, rgb: np.ndarray | None) -> dict[str, Any]:
    if rgb is None:
        return {"faces": [], "qr": []}
    faces = [m.as_dict() for m in face_identify(rgb=rgb)]
    codes = []
    # Searched in every frame, even when every face was identified: a phone held up in front
    # of a face hides that face, and its owner may stand beside a recognised companion.
    for text in decode_qr(rgb, max_side=QR_MAX_SIDE):
        check = qr_check(token=text)
        if check.status != "foreign":
            codes.append(
                {"status": check.status, "shopper": check.shopper.pk if check.shopper else None}
            )
    return {"faces": faces, "qr": codes}


def gate_frame_apply(*, frame: Frame, analysis: dict[str, Any]) -> dict[str, Any]:
    device = frame.device
    entry = device.kind == DeviceKind.ENTRY_GATE
    faces = analysis.get("faces", [])
    codes = analysis.get("qr", [])
    ids = {f["shopper_id"] for f in faces if f.get("shopper_id")}
    ids |= {c["shopper"] for c in codes if c.get("status") == "ok"}
    shoppers = Shopper.objects.in_bulk(ids)
    handled: set[int] = set()

    def admit(shopper: Shopper, method: str) -> str:
        if shopper.pk in handled:
            return "duplicate"
        handled.add(shopper.pk)
        return _enter(frame, shopper, method) if entry else _leave(frame, shopper)

    face_results, unknown = [], []
    for face in faces:
        shopper = shoppers.get(face.get("shopper_id"))
        if shopper is not None and not shopper.face_consent:
            # Consent was withdrawn between the analysis and now.
            shopper = None
        if shopper is None or face["confidence"] < GATE_MIN_CONFIDENCE:
            outcome = "unknown" if shopper is None else "doubtful"
            unknown.append(face["box"])
        else:
            outcome = admit(shopper, "face")
        face_results.append(
            {
                "shopper": shopper.pk if shopper is not None else None,
                "distance": face["distance"],
                "confidence": face["confidence"],
                "box": face["box"],
                "outcome": outcome,
            }
        )
    qr_results = []
    for code in codes:
        shopper = shoppers.get(code.get("shopper")) if code.get("status") == "ok" else None
        outcome = admit(shopper, "qr") if shopper is not None else f"qr_{code.get('status')}"
        qr_results.append({**code, "outcome": outcome})
        if shopper is None:
            live.to_managers("qr_refused", _where(frame) | {"reason": code.get("status")})
    guests = 0
    if unknown:
        live.to_managers("unknown_face", _where(frame) | {"count": len(unknown), "boxes": unknown})
        if entry:
            guests = group_guests_seen(device=device, at=frame.captured_at, count=len(unknown))
    result = {"faces": face_results, "qr": qr_results, "unknown_faces": len(unknown)}
    return result | {"guests": guests} if guests else result


def _where(frame: Frame) -> dict[str, Any]:
    return {
        "device": frame.device.device_id,
        "device_pk": frame.device_id,
        "gate": frame.device.kind,
        "frame": frame.pk,
        "at": frame.captured_at.isoformat(),
    }


def _enter(frame: Frame, shopper: Shopper, method: str) -> str:
    admission = entry_admit(
        shopper=shopper, device=frame.device, method=method, at=frame.captured_at
    )
    if admission.outcome == "refused":
        if not admission.announce:
            return f"refused_{admission.code}"
        live.to_device(
            frame.device_id,
            "greet",
            {
                "name": shopper.display_name,
                "kind": "refused",
                "method": method,
                "code": admission.code,
                "text": f"Sorry, {shopper.display_name}: {admission.reason}",
            },
        )
        return f"refused_{admission.code}"
    if admission.outcome != "visit_opened":
        return "already_in"
    visit = admission.visit
    text = f"Welcome, {shopper.display_name}!"
    if admission.payer is not None and admission.payer.pk != shopper.pk:
        text = f"Welcome, {shopper.display_name}! You shop with {admission.payer.display_name}."
    live.to_device(
        frame.device_id,
        "greet",
        {
            "name": shopper.display_name,
            "visit": visit.pk,
            "kind": "entry",
            "method": method,
            "text": text,
        },
    )
    return "visit_opened"


def _leave(frame: Frame, shopper: Shopper) -> str:
    visit = visit_at_exit(shopper=shopper, at=frame.captured_at)
    if visit is None:
        return "not_in_store"
    receipt = visit_close(visit=visit, device=frame.device, at=frame.captured_at)
    greeting = {"name": shopper.display_name, "visit": visit.pk, "kind": "exit"}
    if receipt is None:
        greeting["text"] = f"Goodbye, {shopper.display_name}! Your receipt follows on your phone."
    else:
        greeting |= {
            "receipt": receipt.number,
            "total": str(receipt.total),
            "currency": receipt.currency,
            "text": f"Goodbye, {shopper.display_name}! Total {receipt.total} {receipt.currency}.",
        }
    live.to_device(frame.device_id, "greet", greeting)
    return "visit_closed"

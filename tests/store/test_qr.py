"""QR entry codes: short-lived, signed per shopper; expired and forged codes are refused."""

from __future__ import annotations

import time
from unittest import mock

import numpy as np
import pytest

from store.models import Frame, Visit
from store.services.frames import frame_store
from store.services.qr import qr_check, qr_issue, qr_revoke
from tests.faces_support import fresh_gallery, jpeg, real_faces  # noqa: F401
from vision.qr import render_qr

pytestmark = pytest.mark.usefixtures("real_faces", "fresh_gallery")


def test_a_fresh_code_identifies_its_shopper(shopper, settings):
    from django.utils import timezone

    before = timezone.now()
    code = qr_issue(shopper=shopper)
    lifetime = (code.expires_at - before).total_seconds()
    assert code.token.startswith("MG1:")
    assert settings.MINIGO["QR_TTL_S"] <= lifetime < settings.MINIGO["QR_TTL_S"] + 5
    check = qr_check(token=code.token)
    assert check.status == "ok" and check.shopper == shopper


def test_an_expired_code_is_refused(shopper, settings):
    token = qr_issue(shopper=shopper).token
    later = time.time() + settings.MINIGO["QR_TTL_S"] + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        assert qr_check(token=token).status == "expired"


def test_forged_codes_are_refused(shopper, other_shopper):
    token = qr_issue(shopper=shopper).token
    prefix, shopper_id, stamp, signature = token.split(":")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    forged = [
        f"{prefix}:{shopper_id}:{stamp}:{flipped}",  # tampered signature
        f"{prefix}:{other_shopper.pk}:{stamp}:{signature}",  # moved to another shopper
        f"{prefix}:999999:{stamp}:{signature}",  # nobody
        "MG1:garbage",
        "MG1:",
    ]
    for text in forged:
        assert qr_check(token=text).status == "forged", text
    assert qr_check(token="https://example.com/product/42").status == "foreign"
    qr_revoke(shopper=shopper)
    assert qr_check(token=token).status == "forged"


def _gate_frame(device, rgb: np.ndarray, event_id: str, django_capture_on_commit_callbacks):
    data = jpeg(rgb, quality=95)
    header = {"event_id": event_id, "ts": time.time(), "camera": "0", "seq": 0}
    with django_capture_on_commit_callbacks(execute=True):
        frame, _ = frame_store(
            device=device, header=header, jpeg=data, width=rgb.shape[1], height=rgb.shape[0]
        )
    return Frame.objects.get(pk=frame.pk)


def _showing(token: str) -> np.ndarray:
    frame = np.full((480, 640, 3), 170, np.uint8)
    code = render_qr(token, scale=5)
    frame[40 : 40 + code.shape[0], 180 : 180 + code.shape[1]] = code
    return frame


def test_a_qr_code_at_the_gates_lets_a_shopper_without_face_consent_in_and_out(
    store, shopper, django_capture_on_commit_callbacks
):
    assert not shopper.face_consent
    token = qr_issue(shopper=shopper).token
    entry = _gate_frame(store.gate_in, _showing(token), "q1", django_capture_on_commit_callbacks)
    assert entry.status == "applied"
    assert entry.result["qr"] == [
        {"status": "ok", "shopper": shopper.pk, "outcome": "visit_opened"}
    ]
    visit = Visit.objects.get(shopper=shopper)
    assert visit.status == "open" and visit.entry_method == "qr"
    again = _gate_frame(store.gate_in, _showing(token), "q2", django_capture_on_commit_callbacks)
    assert again.result["qr"][0]["outcome"] == "already_in"
    assert Visit.objects.filter(shopper=shopper).count() == 1
    token = qr_issue(shopper=shopper).token
    out = _gate_frame(store.gate_out, _showing(token), "q3", django_capture_on_commit_callbacks)
    assert out.result["qr"][0]["outcome"] == "visit_closed"
    visit.refresh_from_db()
    assert visit.status == "closed" and visit.receipt.number


def test_expired_and_forged_codes_at_the_gate_open_nothing_and_say_why(
    store, shopper, settings, django_capture_on_commit_callbacks
):
    old = qr_issue(shopper=shopper).token
    later = time.time() + settings.MINIGO["QR_TTL_S"] + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        expired = _gate_frame(
            store.gate_in, _showing(old), "x1", django_capture_on_commit_callbacks
        )
    assert expired.result["qr"] == [
        {"status": "expired", "shopper": shopper.pk, "outcome": "qr_expired"}
    ]
    forged = old[:-2] + ("zz" if not old.endswith("zz") else "yy")
    bad = _gate_frame(store.gate_in, _showing(forged), "x2", django_capture_on_commit_callbacks)
    assert bad.result["qr"] == [{"status": "forged", "shopper": None, "outcome": "qr_forged"}]
    assert not Visit.objects.exists()


def test_a_code_held_up_beside_an_unknown_face_is_read(
    store, shopper, django_capture_on_commit_callbacks
):
    from PIL import Image

    from tests.faces_support import rgb_of

    picture = Image.fromarray(rgb_of("biden.jpg"))
    picture.thumbnail((640, 640))
    rgb = np.asarray(picture).copy()
    code = render_qr(qr_issue(shopper=shopper).token, scale=4)
    rgb[-code.shape[0] :, : code.shape[1]] = code
    frame = _gate_frame(store.gate_in, rgb, "qf1", django_capture_on_commit_callbacks)
    assert [f["outcome"] for f in frame.result["faces"]] == ["unknown"]
    assert frame.result["qr"][0]["outcome"] == "visit_opened"
    assert Visit.objects.get(shopper=shopper).entry_method == "qr"

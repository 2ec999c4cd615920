"""gate_frame_apply decisions on a given analysis (the vision side is tested with real photos
in tests/e2e/test_gates.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from store.models import Frame, Visit
from store.services.faces import face_consent_set
from store.services.gates import gate_frame_apply


@pytest.fixture
def frame_at(store):
    def make(device, event_id="f1"):
        return Frame.objects.create(
            device=device,
            event_id=event_id,
            captured_at=datetime(2026, 1, 1, tzinfo=UTC),
            width=640,
            height=480,
        )

    return make


def face(shopper_id, confidence=0.95, distance=0.3):
    return {
        "shopper_id": shopper_id,
        "confidence": confidence,
        "distance": distance,
        "box": [1, 2, 3, 0],
    }


def test_a_doubtful_or_withdrawn_match_opens_nothing(store, shopper, other_shopper, frame_at):
    face_consent_set(shopper=shopper, consent=True)
    # other_shopper never consented (or withdrew after the frame was analysed).
    analysis = {"faces": [face(shopper.pk, confidence=0.3), face(other_shopper.pk)], "qr": []}
    result = gate_frame_apply(frame=frame_at(store.gate_in), analysis=analysis)
    assert [f["outcome"] for f in result["faces"]] == ["doubtful", "unknown"]
    assert result["unknown_faces"] == 2
    assert not Visit.objects.exists()


def test_the_same_shopper_by_face_and_qr_in_one_frame_enters_once(store, shopper, frame_at):
    face_consent_set(shopper=shopper, consent=True)
    analysis = {"faces": [face(shopper.pk)], "qr": [{"status": "ok", "shopper": shopper.pk}]}
    result = gate_frame_apply(frame=frame_at(store.gate_in), analysis=analysis)
    assert result["faces"][0]["outcome"] == "visit_opened"
    assert result["qr"][0]["outcome"] == "duplicate"
    assert Visit.objects.filter(shopper=shopper).count() == 1


def test_leaving_without_having_entered_changes_nothing(store, shopper, frame_at):
    face_consent_set(shopper=shopper, consent=True)
    result = gate_frame_apply(
        frame=frame_at(store.gate_out), analysis={"faces": [face(shopper.pk)], "qr": []}
    )
    assert result["faces"][0]["outcome"] == "not_in_store"
    assert not Visit.objects.exists()


def test_the_managers_hear_of_unknown_faces(store, frame_at, django_capture_on_commit_callbacks):
    from unittest import mock

    analysis = {"faces": [face(None, confidence=0.2, distance=0.8)] * 2, "qr": []}
    with mock.patch("store.services.live._send") as send:
        with django_capture_on_commit_callbacks(execute=True):
            gate_frame_apply(frame=frame_at(store.gate_in), analysis=analysis)
    (group, message), _ = send.call_args
    assert group == "managers" and message["event"] == "unknown_face"
    assert message["data"]["count"] == 2 and message["data"]["device"] == "gate-in"

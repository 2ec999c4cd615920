"""Invariant 6 and hostile images: frames keep no pixels unless configured and then expire on
schedule; face data deletion is verified in the database; polyglot, bomb and huge images."""

from __future__ import annotations

import io
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from PIL import Image

from minigo.celery import app as celery_app
from store.models import Frame
from store.services.frames import frame_process, frame_store
from store.tasks import expire_frames


def _jpeg(w: int = 64, h: int = 48, tail: bytes = b"") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 10)).save(buf, "JPEG")
    return buf.getvalue() + tail


def _store(store, event_id: str, jpeg: bytes) -> Frame:
    frame, _ = frame_store(
        device=store.shelf_device,
        jpeg=jpeg,
        width=64,
        height=48,
        header={"event_id": event_id, "camera": "0", "seq": 1, "ts": time.time()},
    )
    return frame


def test_pixels_are_dropped_once_processed_by_default(store):
    frame = _store(store, "f1", _jpeg())
    assert frame.expires_at is None
    frame_process(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.status == "applied" and frame.jpeg is None


def test_kept_frames_expire_on_schedule(store, settings):
    settings.MINIGO = {**settings.MINIGO, "KEEP_FRAMES": True, "FRAME_RETENTION_HOURS": 2}
    frame = _store(store, "f1", _jpeg())
    frame_process(frame_id=frame.pk)
    frame.refresh_from_db()
    assert frame.jpeg is not None
    assert timedelta(hours=1.9) < frame.expires_at - timezone.now() <= timedelta(hours=2)
    expire_frames()
    frame.refresh_from_db()
    assert frame.jpeg is not None  # not yet due
    Frame.objects.filter(pk=frame.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    expire_frames()
    frame.refresh_from_db()
    assert frame.jpeg is None and frame.status == "applied"  # results stay, pixels go
    schedule = celery_app.conf.beat_schedule or {}
    assert any(e["task"] == "store.tasks.expire_frames" for e in schedule.values())


def test_deleting_face_data_is_verified_in_the_database(shopper):
    from store.crypto import embedding_encrypt
    from store.models import FaceEmbedding

    shopper.face_consent = True
    shopper.save()
    FaceEmbedding.objects.create(
        shopper=shopper,
        source="selfie",
        vector=embedding_encrypt(vector=[0.1] * 128, shopper_id=shopper.pk),
    )
    client = Client()
    client.force_login(shopper.user)
    assert client.delete("/api/me/face/").status_code == 204
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM store_faceembedding WHERE shopper_id = %s", [shopper.pk]
        )
        assert cursor.fetchone()[0] == 0


def test_a_polyglot_frame_is_served_only_as_an_image(store, manager, settings):
    settings.MINIGO = {**settings.MINIGO, "KEEP_FRAMES": True}
    payload = b"<html><script>alert(document.cookie)</script></html>"
    frame = _store(store, "f1", _jpeg(tail=payload))
    client = Client()
    client.force_login(manager)
    response = client.get(f"/manager/frames/{frame.pk}.jpg")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "make,code",
    [
        (lambda: _png(30000, 30000), {"frame_dimensions", "frame_corrupt", "frame_bad_type"}),
        (lambda: _jpeg(640, 480)[:900], {"frame_corrupt"}),
        (lambda: b"%PDF-1.4\n" + b"0" * 500, {"frame_corrupt", "frame_bad_type"}),
        (lambda: b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, {"frame_corrupt", "frame_bad_type"}),
    ],
)
def test_hostile_selfies_get_a_code_and_store_nothing(shopper, make, code):
    from store.models import FaceEmbedding

    shopper.face_consent = True
    shopper.save()
    client = Client()
    client.force_login(shopper.user)
    upload = io.BytesIO(make())
    upload.name = "selfie.jpg"
    response = client.post("/api/me/face/", {"image": upload})
    assert response.status_code == 400
    assert response.json()["code"] in code
    assert not FaceEmbedding.objects.exists()


def _png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("1", (w, h)).save(buf, "PNG")  # a few KB on disk, 900 megapixels decoded
    return buf.getvalue()

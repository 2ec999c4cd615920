"""The enrolment API the shopper app and the kiosk are built on: /api/me/... and
/api/shoppers/..."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from store.models import FaceEmbedding, Shopper
from store.services.qr import qr_check
from tests.faces_support import fresh_gallery, photo, real_faces  # noqa: F401

pytestmark = pytest.mark.usefixtures("real_faces", "fresh_gallery")


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def upload(name: str, data: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, photo(name) if data is None else data, "image/jpeg")


def test_a_shopper_records_and_withdraws_consent(shopper):
    c = client_for(shopper.user)
    on = c.post("/api/me/consent/", {"face": True}, format="json")
    assert on.status_code == 200 and on.json()["face"] is True and on.json()["face_consent_at"]
    off = c.post("/api/me/consent/", {"face": False}, format="json")
    assert off.json() == {"face": False, "face_consent_at": None, "embeddings": 0}
    bad = c.post("/api/me/consent/", {}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_a_selfie_needs_consent_then_enrols_and_delete_removes_it(shopper):
    c = client_for(shopper.user)
    refused = c.post("/api/me/face/", {"image": upload("obama.jpg")}, format="multipart")
    assert refused.status_code == 400 and refused.json()["code"] == "consent_required"
    c.post("/api/me/consent/", {"face": True}, format="json")
    ok = c.post("/api/me/face/", {"image": upload("obama.jpg")}, format="multipart")
    assert ok.status_code == 201 and ok.json() == {"embeddings": 1}
    assert c.get("/api/me/face/").json() == {"embeddings": 1}
    gone = c.delete("/api/me/face/")
    assert gone.status_code == 204
    assert not FaceEmbedding.objects.filter(shopper=shopper).exists()


def test_a_bad_selfie_gets_its_code(shopper):
    c = client_for(shopper.user)
    c.post("/api/me/consent/", {"face": True}, format="json")
    cases = {
        "many_faces": upload("two_people.jpg"),
        "frame_corrupt": upload("broken.jpg", b"\xff\xd8\xff\xe0 not really"),
    }
    for code, image in cases.items():
        response = c.post("/api/me/face/", {"image": image}, format="multipart")
        assert response.status_code == 400 and response.json()["code"] == code
    missing = c.post("/api/me/face/", {}, format="multipart")
    assert missing.json()["code"] == "image_required"
    assert not FaceEmbedding.objects.exists()


def test_the_qr_endpoint_gives_a_fresh_signed_code_as_svg(shopper):
    response = client_for(shopper.user).get("/api/me/qr/")
    body = response.json()
    assert set(body) == {"token", "expires_at", "svg"}
    assert body["svg"].startswith("<svg") and response["Cache-Control"] == "no-store"
    check = qr_check(token=body["token"])
    assert check.status == "ok" and check.shopper == shopper


def test_me_endpoints_need_a_signed_in_shopper(outsider):
    for url in ["/api/me/consent/", "/api/me/face/", "/api/me/qr/"]:
        assert client_for().get(url).status_code == 403
        response = client_for(outsider).get(url)
        assert response.status_code == 403 and response.json()["code"] == "not_a_shopper"


def test_only_staff_use_the_kiosk(shopper, other_shopper):
    c = client_for(shopper.user)
    assert c.get("/api/shoppers/").status_code == 403
    new = {"username": "zoe", "display_name": "Zoe", "email": "", "face_consent": True}
    assert c.post("/api/shoppers/", new, format="json").status_code == 403
    images = {"images": [upload("obama.jpg")]}
    url = f"/api/shoppers/{other_shopper.pk}/faces/"
    assert c.post(url, images, format="multipart").status_code == 403
    assert not FaceEmbedding.objects.exists()


def test_the_kiosk_creates_a_shopper_and_enrols_several_photos(manager):
    c = client_for(manager)
    created = c.post(
        "/api/shoppers/",
        {
            "username": "zoe",
            "display_name": "Zoe",
            "email": "zoe@example.com",
            "face_consent": True,
        },
        format="json",
    )
    assert created.status_code == 201
    zoe = created.json()
    assert zoe["face_consent"] is True and zoe["embeddings"] == 0 and zoe["username"] == "zoe"
    again = c.post("/api/shoppers/", {"username": "ZOE", "display_name": "Z"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "username_taken"
    images = [upload("obama.jpg"), upload("obama2.jpg"), upload("two_people.jpg")]
    response = c.post(f"/api/shoppers/{zoe['id']}/faces/", {"images": images}, format="multipart")
    body = response.json()
    assert response.status_code == 200 and body["added"] == 2
    assert [(e["name"], e["code"]) for e in body["errors"]] == [("two_people.jpg", "many_faces")]
    listed = c.get("/api/shoppers/?q=zo").json()
    assert listed["count"] == 1 and listed["results"][0]["embeddings"] == 2


def test_the_kiosk_needs_the_shoppers_recorded_consent(manager, other_shopper):
    url = f"/api/shoppers/{other_shopper.pk}/faces/"
    response = client_for(manager).post(url, {"images": [upload("biden.jpg")]}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "consent_required"
    assert not Shopper.objects.get(pk=other_shopper.pk).embeddings.exists()

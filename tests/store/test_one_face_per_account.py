"""One account, one face: once an account holds a person's face, a photo of another person
is refused for it (code face_other_person), through the service and the API, with the real
fixture photos (Obama: obama*.jpg, Biden: biden.jpg)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from store.models import FaceEmbedding
from store.services.faces import face_consent_set, face_delete, face_enrol
from tests.faces_support import fresh_gallery, photo, real_faces  # noqa: F401

pytestmark = pytest.mark.usefixtures("real_faces", "fresh_gallery")


@pytest.fixture
def bea(shopper):
    return face_consent_set(shopper=shopper, consent=True)


def test_a_second_persons_face_is_refused_for_an_account(bea):
    first = face_enrol(shopper=bea, images=[photo("obama.jpg")], source="selfie")
    assert first.added == 1
    second = face_enrol(shopper=bea, images=[photo("biden.jpg")], source="selfie")
    assert second.added == 0 and second.total == 1
    assert second.errors[0][1] == "face_other_person"
    # Another photo of the same person is still welcome.
    same = face_enrol(shopper=bea, images=[photo("obama2.jpg")], source="selfie")
    assert same.added == 1 and same.total == 2


def test_one_batch_cannot_mix_two_people(bea):
    result = face_enrol(
        shopper=bea, images=[photo("obama.jpg"), photo("biden.jpg")], source="kiosk"
    )
    assert result.added == 1
    assert [(i, code) for i, code, _ in result.errors] == [(1, "face_other_person")]


def test_after_deleting_the_face_data_someone_else_can_be_enrolled(bea):
    face_enrol(shopper=bea, images=[photo("obama.jpg")], source="selfie")
    face_delete(shopper=bea)
    again = face_enrol(shopper=bea, images=[photo("biden.jpg")], source="selfie")
    assert again.added == 1 and not again.errors


def test_the_api_answers_face_other_person_and_keeps_the_enrolled_face(bea):
    client = APIClient()
    client.force_authenticate(bea.user)

    def send(name: str):
        image = SimpleUploadedFile(name, photo(name), "image/jpeg")
        return client.post("/api/me/face/", {"image": image}, format="multipart")

    assert send("obama.jpg").status_code == 201
    refused = send("biden.jpg")
    assert refused.status_code == 400
    assert refused.json()["code"] == "face_other_person"
    assert FaceEmbedding.objects.filter(shopper=bea).count() == 1

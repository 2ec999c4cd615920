"""Face services: consent, enrolment (embeddings only), deletion, identification."""

from __future__ import annotations

import numpy as np
import pytest

from store.crypto import embedding_encrypt
from store.errors import DomainError
from store.models import FaceEmbedding
from store.services.faces import (
    face_consent_set,
    face_delete,
    face_enrol,
    face_gallery,
    face_identify,
)
from tests.faces_support import fresh_gallery, photo, real_faces, rgb_of  # noqa: F401

pytestmark = pytest.mark.usefixtures("real_faces", "fresh_gallery")


@pytest.fixture
def kit(shopper):
    return face_consent_set(shopper=shopper, consent=True)


def test_enrolment_needs_recorded_consent(shopper):
    with pytest.raises(DomainError) as caught:
        face_enrol(shopper=shopper, images=[photo("obama.jpg")], source="selfie")
    assert caught.value.code == "consent_required"
    assert not FaceEmbedding.objects.exists()


def test_only_the_embedding_is_stored(kit, settings, tmp_path):
    result = face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    assert (result.added, result.total, result.errors) == (1, 1, [])
    (row,) = FaceEmbedding.objects.all()
    assert row.source == "selfie"
    # Encrypted at rest: the stored bytes are not the float64 vector, and decrypt to it.
    from store.crypto import embedding_decrypt

    stored = bytes(row.vector)
    vector = embedding_decrypt(blob=stored, shopper_id=kit.pk)
    assert vector.shape == (128,)
    assert vector.astype("<f8").tobytes() not in stored
    media = settings.MEDIA_ROOT
    assert not (media.exists() and any(media.rglob("*")))


def test_bad_photos_get_codes_and_good_ones_are_still_enrolled(kit):
    result = face_enrol(
        shopper=kit,
        images=[photo("two_people.jpg"), b"not an image", photo("obama2.jpg")],
        source="kiosk",
    )
    assert result.added == 1
    assert [(i, code) for i, code, _ in result.errors] == [(0, "many_faces"), (1, "frame_corrupt")]


def test_a_shopper_is_identified_and_a_stranger_is_not(kit, other_shopper):
    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    (match,) = face_identify(rgb=rgb_of("obama3.jpg"))
    assert match.shopper_id == kit.pk and match.confidence > 0.8
    top, right, bottom, left = match.box
    assert 0 <= top < bottom <= 2333 and 0 <= left < right <= 1434
    (stranger,) = face_identify(rgb=rgb_of("biden.jpg"))
    assert stranger.shopper_id is None and stranger.second_shopper_id == kit.pk
    # Restricted to other shoppers (a shelf camera's "in the store" list), Kit is not found.
    (nobody,) = face_identify(rgb=rgb_of("obama3.jpg"), shopper_ids=[other_shopper.pk])
    assert nobody.shopper_id is None
    # With `outside`, a face nobody inside matches is matched against everyone else enrolled
    # (Kit is inside though no gate saw them come in).
    (found,) = face_identify(rgb=rgb_of("obama3.jpg"), shopper_ids=[other_shopper.pk], outside=True)
    assert found.shopper_id == kit.pk and found.confidence == match.confidence


def test_two_people_in_one_frame_are_each_identified(kit, other_shopper):
    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    ana = face_consent_set(shopper=other_shopper, consent=True)
    face_enrol(shopper=ana, images=[photo("biden.jpg")], source="selfie")
    found = face_identify(rgb=rgb_of("two_people.jpg"))
    assert sorted(m.shopper_id for m in found) == sorted([kit.pk, ana.pk])


def test_delete_removes_the_embeddings_at_once(kit):
    face_enrol(shopper=kit, images=[photo("obama.jpg"), photo("obama2.jpg")], source="kiosk")
    assert face_identify(rgb=rgb_of("obama3.jpg"))[0].shopper_id == kit.pk
    assert face_delete(shopper=kit) == 2
    assert not FaceEmbedding.objects.filter(shopper=kit).exists()
    assert face_identify(rgb=rgb_of("obama3.jpg"))[0].shopper_id is None


def test_withdrawing_consent_deletes_the_face_data(kit):
    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    face_consent_set(shopper=kit, consent=False)
    kit.refresh_from_db()
    assert not kit.face_consent and kit.face_consent_at is None
    assert not FaceEmbedding.objects.filter(shopper=kit).exists()
    assert len(face_gallery()) == 0


def test_a_face_enrolled_for_someone_else_is_refused(kit, other_shopper):
    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    ana = face_consent_set(shopper=other_shopper, consent=True)
    result = face_enrol(shopper=ana, images=[photo("obama2.jpg")], source="selfie")
    assert result.added == 0 and result.errors[0][1] == "face_matches_other"


def test_the_gallery_sees_changes_made_by_another_process(kit):
    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    assert len(face_gallery()) == 1
    # A row written behind the services' back (another worker, the admin) is still seen,
    # and so is a consent flag cleared without going through face_consent_set.
    FaceEmbedding.objects.create(
        shopper=kit,
        vector=embedding_encrypt(vector=np.zeros(128), shopper_id=kit.pk),
        source="import",
    )
    assert len(face_gallery()) == 2
    type(kit).objects.filter(pk=kit.pk).update(face_consent=False)
    assert len(face_gallery()) == 0


def test_a_gallery_of_thousands_of_embeddings_still_finds_the_right_shopper(kit, make_user):
    """3,000 synthetic embeddings (spread over a few shoppers: creating thousands of users would
    only time password hashing) plus Kit's real one; bench/faces.py times the matching."""
    from store.models import Shopper

    face_enrol(shopper=kit, images=[photo("obama.jpg")], source="selfie")
    rng = np.random.default_rng(0)
    users = [make_user(f"s{i}", shopper=False) for i in range(3)]
    shoppers = [
        Shopper.objects.create(user=u, display_name=u.username, face_consent=True) for u in users
    ]
    vectors = rng.normal(0, 0.09, size=(3_000, 128))
    FaceEmbedding.objects.bulk_create(
        FaceEmbedding(
            shopper=shoppers[i % 3],
            vector=embedding_encrypt(vector=v, shopper_id=shoppers[i % 3].pk),
            source="import",
        )
        for i, v in enumerate(vectors)
    )
    assert len(face_gallery()) == 3_001
    (match,) = face_identify(rgb=rgb_of("obama2.jpg"))
    assert match.shopper_id == kit.pk


def test_with_nobody_enrolled_every_face_is_unknown_and_the_result_is_json_safe(store):
    import json

    found = face_identify(rgb=rgb_of("two_people.jpg"))
    assert [m.shopper_id for m in found] == [None, None]
    assert json.loads(json.dumps([m.as_dict() for m in found]))[0]["distance"] is None

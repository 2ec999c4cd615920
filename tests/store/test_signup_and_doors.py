"""Shopper sign-up, and the staff actions at the doors (let in by hand, close a visit)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from store.errors import Conflict
from store.models import Receipt, Visit
from store.services.shoppers import shopper_create


def test_signing_up_creates_a_user_and_shopper_without_consent(db):
    c = Client()
    response = c.post(
        "/signup/",
        {
            "username": "lee",
            "display_name": "Lee",
            "email": "lee@example.com",
            "password": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/app/enrol/"
    user = get_user_model().objects.get(username="lee")
    assert user.shopper.display_name == "Lee"
    assert user.shopper.face_consent is False
    assert c.get("/app/").status_code == 200


def test_sign_up_refuses_a_taken_username_and_a_weak_password(shopper):
    c = Client()
    taken = c.post(
        "/signup/", {"username": "KIT", "display_name": "K", "password": "a-long-pass-phrase"}
    )
    assert taken.status_code == 200 and b"that username is taken" in taken.content
    weak = c.post("/signup/", {"username": "new", "display_name": "N", "password": "12345678"})
    assert weak.status_code == 200 and b"aria-invalid" in weak.content
    assert not get_user_model().objects.filter(username="new").exists()


@pytest.mark.parametrize("password", ["a-long-pass-phrase", None], ids=["sign-up", "kiosk"])
def test_a_taken_username_is_the_same_conflict_for_sign_up_and_kiosk(shopper, password):
    with pytest.raises(Conflict) as refused:
        shopper_create(username="Kit", display_name="K", password=password)
    assert (refused.value.code, refused.value.status) == ("username_taken", 409)


def test_a_kiosk_account_has_no_usable_password_until_the_shopper_sets_one(db):
    created = shopper_create(username="mo", display_name="Mo", face_consent=True)
    assert not created.user.has_usable_password()
    assert created.face_consent is True


def test_a_manager_lets_a_shopper_in_and_closes_the_visit(store, manager, shopper):
    api = APIClient()
    api.force_authenticate(manager)
    opened = api.post("/api/visits/admit/", {"shopper": shopper.pk}, format="json")
    assert opened.status_code == 201
    visit = Visit.objects.get(pk=opened.json()["id"])
    assert visit.entry_method == "manual" and visit.status == "open"
    closed = api.post(f"/api/visits/{visit.pk}/close/")
    assert closed.status_code == 200
    assert closed.json()["number"] == Receipt.objects.get(visit=visit).number
    # Closing twice returns the same receipt (one receipt per visit).
    assert api.post(f"/api/visits/{visit.pk}/close/").json()["receipt"] == closed.json()["receipt"]


def test_shoppers_cannot_open_or_close_visits(store, shopper, other_shopper):
    api = APIClient()
    api.force_authenticate(shopper.user)
    assert api.post("/api/visits/admit/", {"shopper": shopper.pk}).status_code == 403
    visit = Visit.objects.create(shopper=other_shopper, entered_at="2026-01-01T10:00:00Z")
    assert api.post(f"/api/visits/{visit.pk}/close/").status_code == 403
    visit.refresh_from_db()
    assert visit.status == "open"


def test_the_sign_up_page_has_labelled_fields_and_skips_signed_in_users(shopper):
    page = Client().get("/signup/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("username", "display_name", "email", "password"):
        assert f'<label for="id_{field}">' in html and f'id="id_{field}"' in html
    c = Client()
    c.force_login(shopper.user)
    assert c.get("/signup/")["Location"] == "/"

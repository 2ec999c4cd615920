"""Calibrating where a slot is reached from in its shelf camera's view: the reach band."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from store.errors import DomainError
from store.models import Slot
from store.services.calibration import slot_calibrate


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def test_a_manager_draws_a_slots_reach_band(store, manager):
    response = client_for(manager).post(
        f"/api/slots/{store.a1.pk}/reach/", {"reach": [0.62, 0.91]}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["reach"] == [0.62, 0.91]
    store.a1.refresh_from_db()
    assert store.a1.reach == (0.62, 0.91)
    listed = client_for(manager).get(f"/api/slots/{store.a1.pk}/").json()
    assert listed["reach"] == [0.62, 0.91]


def test_clearing_the_band_makes_the_slot_uncalibrated_again(store, manager):
    slot_calibrate(slot=store.a1, reach=[0.1, 0.3])
    response = client_for(manager).post(
        f"/api/slots/{store.a1.pk}/reach/", {"reach": None}, format="json"
    )
    assert response.status_code == 200 and response.json()["reach"] is None
    store.a1.refresh_from_db()
    assert store.a1.reach is None


@pytest.mark.parametrize("reach", [[0.5, 0.2], [0.2, 1.4], [0.3], "left", [0.4, 0.4]])
def test_a_bad_band_gets_a_code_and_the_old_band_stays(store, manager, reach):
    slot_calibrate(slot=store.a1, reach=[0.1, 0.3])
    response = client_for(manager).post(
        f"/api/slots/{store.a1.pk}/reach/", {"reach": reach}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"]
    store.a1.refresh_from_db()
    assert store.a1.reach == (0.1, 0.3)


def test_the_service_refuses_a_reversed_band_with_its_code(store):
    with pytest.raises(DomainError) as err:
        slot_calibrate(slot=store.a1, reach=[0.8, 0.2])
    assert err.value.code == "bad_reach"


def test_the_database_refuses_half_a_band(store):
    with pytest.raises(IntegrityError), transaction.atomic():
        Slot.objects.filter(pk=store.a1.pk).update(reach_from=0.2, reach_to=0.1)


def test_only_staff_calibrate(store, shopper):
    assert client_for().post(f"/api/slots/{store.a1.pk}/reach/", {"reach": [0, 1]}).status_code in (
        401,
        403,
    )
    response = client_for(shopper.user).post(
        f"/api/slots/{store.a1.pk}/reach/", {"reach": [0, 0.5]}, format="json"
    )
    assert response.status_code == 403
    store.a1.refresh_from_db()
    assert store.a1.reach is None


def test_calibrating_from_the_browser_needs_the_csrf_token(store, manager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(manager)
    url = f"/api/slots/{store.a1.pk}/reach/"
    refused = browser.post(url, {"reach": [0.2, 0.4]}, content_type="application/json")
    assert refused.status_code == 403
    page = browser.get("/manager/inventory/")
    token = page.cookies["csrftoken"].value
    ok = browser.post(
        url, {"reach": [0.2, 0.4]}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert ok.status_code == 200
    store.a1.refresh_from_db()
    assert store.a1.reach == (0.2, 0.4)


def test_the_inventory_page_offers_the_latest_held_frame_to_draw_on(store, manager):
    from django.utils import timezone

    from store.models import Frame

    old = Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=timezone.now(), width=16, height=16
    )
    held = Frame.objects.create(
        device=store.shelf_device,
        event_id="f2",
        captured_at=timezone.now(),
        width=16,
        height=16,
        jpeg=b"\xff\xd8\xff",
    )
    browser = Client()
    browser.force_login(manager)
    html = browser.get("/manager/inventory/").content.decode()
    assert f"/manager/frames/{held.pk}.jpg" in html
    assert f"/manager/frames/{old.pk}.jpg" not in html
    assert f'data-reach-slot="{store.a1.pk}"' in html

"""Who may open which page: managers see the dashboard, shoppers only their own app, an
outsider (signed in, no shopper profile) neither, and anonymous visitors are sent to login."""

from __future__ import annotations

import pytest
from django.test import Client

from store.services.carts import cart_take
from store.services.visits import visit_close, visit_open

MANAGER_PAGES = [
    "/manager/",
    "/manager/state.json",
    "/manager/devices.json",
    "/manager/inventory/",
    "/manager/review/",
    "/manager/review.json",
    "/manager/kiosk/",
    "/manager/receipts/",
    "/manager/disputes/",
    "/manager/analytics/",
    "/manager/analytics.json",
    "/manager/settings/",
    "/manager/receipts.csv",
]
SHOPPER_PAGES = ["/app/", "/app/state.json", "/app/enrol/", "/app/receipts/"]


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("url", MANAGER_PAGES)
def test_a_manager_opens_every_manager_page(store, manager, url):
    assert client_for(manager).get(url).status_code == 200


@pytest.mark.parametrize("url", MANAGER_PAGES + SHOPPER_PAGES)
def test_anonymous_is_sent_to_login(store, url):
    response = client_for().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("url", MANAGER_PAGES)
def test_a_shopper_never_sees_a_manager_page(store, shopper, url):
    assert client_for(shopper.user).get(url).status_code == 403


@pytest.mark.parametrize("url", MANAGER_PAGES + SHOPPER_PAGES)
def test_an_outsider_sees_neither(store, outsider, url):
    assert client_for(outsider).get(url).status_code == 403


@pytest.mark.parametrize("url", SHOPPER_PAGES)
def test_a_shopper_opens_their_pages(store, shopper, url):
    assert client_for(shopper.user).get(url).status_code == 200


def test_a_dropped_frame_answers_no_content_and_an_unknown_one_404(store, manager, shopper):
    from django.utils import timezone

    from store.models import Frame

    frame = Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=timezone.now(), width=4, height=4
    )
    c = client_for(manager)
    dropped = c.get(f"/manager/frames/{frame.pk}.jpg")
    assert dropped.status_code == 204 and not dropped.content
    assert c.get(f"/manager/frames/{frame.pk + 1000}.jpg").status_code == 404
    Frame.objects.filter(pk=frame.pk).update(jpeg=b"\xff\xd8fake")
    held = c.get(f"/manager/frames/{frame.pk}.jpg")
    assert held.status_code == 200 and held["Content-Type"] == "image/jpeg"
    assert client_for(shopper.user).get(f"/manager/frames/{frame.pk}.jpg").status_code == 403


def test_the_shopper_state_holds_only_their_own_cart(store, shopper, other_shopper):
    mine, _ = visit_open(shopper=shopper)
    theirs, _ = visit_open(shopper=other_shopper)
    cart_take(visit=theirs, product=store.cola, quantity=2, slot=store.a1)
    cart_take(visit=mine, product=store.chips, quantity=1, slot=store.a2)
    state = client_for(shopper.user).get("/app/state.json").json()
    assert state["shopper"] == shopper.pk
    assert state["cart"]["visit"] == mine.pk
    assert [line["sku"] for line in state["cart"]["lines"]] == ["CHIPS"]
    assert "COLA" not in str(state)


def test_a_shopper_cannot_open_another_shoppers_receipt(store, shopper, other_shopper):
    theirs, _ = visit_open(shopper=other_shopper)
    cart_take(visit=theirs, product=store.cola, quantity=1, slot=store.a1)
    receipt = visit_close(visit=theirs)
    c = client_for(shopper.user)
    assert c.get(f"/app/receipts/{receipt.pk}/").status_code == 404
    assert receipt.number not in c.get("/app/receipts/").content.decode()
    assert c.get(f"/app/receipts/{receipt.pk}/").status_code == 404
    ok = client_for(other_shopper.user).get(f"/app/receipts/{receipt.pk}/")
    assert ok.status_code == 200 and receipt.number in ok.content.decode()


def test_home_routes_staff_to_the_dashboard_and_shoppers_to_their_app(store, manager, shopper):
    assert client_for(manager).get("/")["Location"] == "/manager/"
    assert client_for(shopper.user).get("/")["Location"] == "/app/"
    landing = client_for().get("/")
    assert landing.status_code == 200 and b"/signup/" in landing.content


def test_the_outsider_home_page_explains_there_is_no_shopper_profile(outsider):
    response = client_for(outsider).get("/")
    assert response.status_code == 200
    assert b"no shopper profile" in response.content


def test_the_nav_shows_manager_links_only_to_staff(store, manager, shopper):
    staff_page = client_for(manager).get("/manager/").content.decode()
    shopper_page = client_for(shopper.user).get("/app/").content.decode()
    assert 'href="/manager/inventory/"' in staff_page
    assert 'href="/manager/inventory/"' not in shopper_page
    assert 'href="/app/receipts/"' in shopper_page


def test_pages_carry_a_csrf_token_for_their_scripts(store, manager):
    page = client_for(manager).get("/manager/inventory/").content.decode()
    assert '<meta name="csrf-token" content="' in page
    assert "js/manager-inventory.js" in page


def test_the_app_is_installable(client):
    manifest = client.get("/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = manifest.json()
    assert data["start_url"] == "/app/" and data["display"] == "standalone"
    sizes = {icon["sizes"] for icon in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon["src"]
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and b"addEventListener('fetch'" in worker.content


def test_the_chart_library_is_vendored_with_its_licence(client):
    assert client.get("/static/vendor/chartjs/chart.umd.min.js").status_code == 200
    assert client.get("/static/vendor/chartjs/LICENSE.md").status_code == 200


def test_receipts_are_searched_by_number_shopper_or_product(store, manager, shopper, other_shopper):
    mine, _ = visit_open(shopper=shopper)
    cart_take(visit=mine, product=store.cola, quantity=1, slot=store.a1)
    kit_receipt = visit_close(visit=mine)
    theirs, _ = visit_open(shopper=other_shopper)
    cart_take(visit=theirs, product=store.chips, quantity=1, slot=store.a2)
    ana_receipt = visit_close(visit=theirs)
    c = client_for(manager)

    def found(q: str) -> set[str]:
        html = c.get("/manager/receipts/", {"q": q}).content.decode()
        return {r.number for r in (kit_receipt, ana_receipt) if r.number in html}

    assert found("Ana") == {ana_receipt.number}
    assert found("crisps") == {ana_receipt.number}
    assert found(kit_receipt.number) == {kit_receipt.number}
    assert found("") == {kit_receipt.number, ana_receipt.number}

"""The manager's and the shopper's daily pages: store settings on receipts, receipts by
date with pages, daily totals and CSV, printable receipts with the tax per rate and the
refunds, kiosk invites, password reset, the store's own error pages, analytics currency."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from store.models import Receipt
from store.services.carts import cart_take
from store.services.disputes import dispute_open, dispute_resolve
from store.services.invites import shopper_invite
from store.services.shoppers import shopper_create
from store.services.store_settings import store_settings_get, store_settings_update
from store.services.visits import visit_close, visit_open


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def sale(store, shopper, *, cola=0, chips=0, when=None) -> Receipt:
    visit, _ = visit_open(shopper=shopper)
    if cola:
        cart_take(visit=visit, product=store.cola, quantity=cola, slot=store.a1)
    if chips:
        cart_take(visit=visit, product=store.chips, quantity=chips, slot=store.a2)
    receipt = visit_close(visit=visit)
    if when is not None:
        Receipt.objects.filter(pk=receipt.pk).update(issued_at=when)
        receipt.refresh_from_db()
    return receipt


def test_staff_edit_the_store_settings_and_bad_values_get_a_code(store, manager):
    c = client_for(manager)
    bad = c.post("/manager/settings/", {"name": "Corner", "currency": "euro"})
    assert bad.status_code == 400 and 'data-code="bad_currency"' in bad.content.decode()
    assert store_settings_get().name == "MiniGo store"  # nothing half-saved
    ok = c.post(
        "/manager/settings/",
        {
            "name": "Corner Pantry",
            "address": "1 Main St\n10115 Berlin",
            "currency": "usd",
            "tax_ids": "VAT DE123",
            "receipt_footer": "Thanks!",
        },
    )
    assert ok.status_code == 302
    shop = store_settings_get()
    assert (shop.name, shop.currency, shop.tax_ids) == ("Corner Pantry", "USD", "VAT DE123")


def test_a_shopper_cannot_change_the_store_settings(store, shopper):
    assert client_for(shopper.user).post("/manager/settings/", {"name": "x"}).status_code == 403


def test_a_receipt_shows_the_store_the_tax_per_rate_and_its_refunds(store, shopper, manager):
    store_settings_update(
        by=manager, name="Corner Pantry", address="1 Main St", tax_ids="VAT DE123", currency="CHF"
    )
    receipt = sale(store, shopper, cola=2, chips=1)
    assert receipt.currency == "CHF"
    line = receipt.lines.get(sku="COLA")
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=1, message="no")
    dispute_resolve(dispute=dispute, by=manager, refund=True)
    html = client_for(shopper.user).get(f"/app/receipts/{receipt.pk}/").content.decode()
    for text in ("Corner Pantry", "1 Main St", "VAT DE123", "Tax included", "20 %", "0 %"):
        assert text in html, text
    # What is left: 1 cola at 1.50 holding 0.25 tax at 20 %, and crisps 1.10 at 0 %.
    assert re.search(r'20 %</td><td class="num">1.25</td><td class="num">0.25</td>', html)
    assert "1 refunded" in html and 'refund-amount small">1.50<' in html
    # The refund revised the receipt: its total is what the shopper pays in the end.
    assert re.search(r'class="receipt-total">2.60 CHF<', html)
    assert html.count("Report a problem") == 2
    manager_html = client_for(manager).get(f"/manager/receipts/{receipt.pk}/").content.decode()
    assert "Corner Pantry" in manager_html and "data-print" in manager_html
    assert "Correct this receipt" in manager_html


def test_a_fully_refunded_line_offers_no_second_report(store, shopper, manager):
    receipt = sale(store, shopper, cola=2, chips=1)
    line = receipt.lines.get(sku="COLA")
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=2, message="x")
    dispute_resolve(dispute=dispute, by=manager, refund=True)
    html = client_for(shopper.user).get(f"/app/receipts/{receipt.pk}/").content.decode()
    assert "2 refunded" in html and html.count("Report a problem") == 1


def test_receipts_are_filtered_by_date_paged_and_totalled_per_day(store, shopper, manager):
    now = timezone.now()
    for _ in range(27):
        sale(store, shopper, cola=1, when=now)
    old = sale(store, shopper, chips=2, when=now - timedelta(days=3))
    c = client_for(manager)
    first = c.get("/manager/receipts/").content.decode()
    assert "28 receipts" in first and "Page 1 of 2" in first
    assert first.count('class="card row receipt-row"') == 25
    day = (now - timedelta(days=3)).date().isoformat()
    only_old = c.get("/manager/receipts/", {"from": day, "to": day}).content.decode()
    assert old.number in only_old and "1 receipt " in only_old
    totals = re.search(r'id="daily-totals".*?</details>', first, re.S).group(0)
    assert "40.50 EUR" in totals  # 27 colas at 1.50 today
    assert "2.20 EUR" in totals
    bad = c.get("/manager/receipts/", {"from": "yesterday"})
    assert bad.status_code == 200 and "Not a date: yesterday" in bad.content.decode()


def test_the_csv_export_has_one_row_per_line_and_follows_the_filters(store, shopper, manager):
    receipt = sale(store, shopper, cola=2, chips=1)
    sale(store, shopper, cola=1, when=timezone.now() - timedelta(days=10))
    day = timezone.now().date().isoformat()
    response = client_for(manager).get("/manager/receipts.csv", {"from": day})
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["number"], r["sku"], r["quantity"]) for r in rows] == [
        (receipt.number, "COLA", "2"),
        (receipt.number, "CHIPS", "1"),
    ]
    assert rows[0]["receipt_total"] == "4.10" and rows[0]["currency"] == "EUR"


def test_a_kiosk_shopper_signs_in_through_the_invite_once(store, manager):
    shopper = shopper_create(username="bea", display_name="Bea", email="bea@example.com")
    assert not shopper.user.has_usable_password()
    api = client_for(manager)
    answer = api.post(f"/api/shoppers/{shopper.pk}/invite/", {}, content_type="application/json")
    assert answer.status_code == 200
    data = answer.json()
    assert data["emailed"] is True and data["username"] == "bea" and "<svg" in data["svg"]
    assert data["url"] in mail.outbox[-1].body
    path = data["url"].split("testserver", 1)[1]
    browser = Client()
    form = browser.get(path)
    assert form.status_code == 200 and "Choose a password" in form.content.decode()
    differ = browser.post(path, {"password": "walk-out-123", "password2": "walk-out-124"})
    assert differ.status_code == 400 and "differ" in differ.content.decode()
    done = browser.post(path, {"password": "walk-out-123", "password2": "walk-out-123"})
    assert done.status_code == 302
    assert browser.get("/app/").status_code == 200  # signed in as Bea
    again = Client().get(path)
    assert again.status_code == 410 and "no longer works" in again.content.decode()
    fresh = Client()
    assert fresh.login(username="bea", password="walk-out-123")


def test_only_staff_make_invites(store, shopper, other_shopper):
    url = f"/api/shoppers/{other_shopper.pk}/invite/"
    assert client_for(shopper.user).post(url).status_code == 403
    invite = shopper_invite(shopper=other_shopper, base_url="http://shop.example", email=False)
    assert invite.url.startswith("http://shop.example/invite/") and not mail.outbox


def test_password_reset_is_the_stores_own_page_and_linked_from_sign_in(store, shopper):
    c = Client()
    login = c.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password_reset/"' in login
    page = c.get("/accounts/password_reset/").content.decode()
    assert "Reset your password" in page and "minigo.css" in page and "Django" not in page
    sent = c.post("/accounts/password_reset/", {"email": shopper.user.email})
    assert sent.status_code == 302
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    confirm = c.get(link, follow=True)
    assert "Choose a new password" in confirm.content.decode()


@pytest.mark.parametrize("who", ["shopper", "anonymous"])
def test_errors_are_the_stores_own_pages(store, shopper, who, settings):
    settings.DEBUG = False
    c = client_for(shopper.user if who == "shopper" else None)
    missing = c.get("/no/such/page/")
    assert missing.status_code == 404
    assert "There is nothing here" in missing.content.decode()
    assert "minigo.css" in missing.content.decode()
    if who == "shopper":
        denied = c.get("/manager/inventory/")
        assert denied.status_code == 403 and "not for this account" in denied.content.decode()


def test_the_server_error_page_renders_without_a_request():
    from django.template import loader

    html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html


def test_analytics_amounts_come_with_the_currency(store, manager):
    store_settings_update(by=manager, currency="GBP")
    data = client_for(manager).get("/manager/analytics.json").json()
    assert data["currency"] == "GBP"


def test_inventory_shows_sensor_names_and_tax_as_a_percentage(store, manager):
    html = client_for(manager).get("/manager/inventory/").content.decode()
    assert ">Load cell (grams)</option>" in html
    assert 'name="tax_percent" inputmode="decimal" value="20"' in html
    assert ">load_cell<" not in html and "0.2000" not in html


def test_a_refund_shows_on_the_daily_totals(store, shopper, manager):
    receipt = sale(store, shopper, cola=3)
    line = receipt.lines.get()
    dispute = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=1, message="x")
    dispute_resolve(dispute=dispute, by=manager, refund=True)
    html = client_for(manager).get("/manager/receipts/").content.decode()
    totals = re.search(r'id="daily-totals".*?</details>', html, re.S).group(0)
    assert "4.50 EUR" in totals and "1.50" in totals and "3.00 EUR" in totals
    assert Decimal("4.50") == receipt.total


def test_replayed_shoppers_get_the_known_password_only_in_demo_mode(store, shopper, settings):
    from store.errors import DomainError
    from store.replay.build import DEMO_SHOPPER_PASSWORD, demo_passwords

    with pytest.raises(DomainError) as refused:
        demo_passwords({"kit": shopper})
    assert refused.value.code == "not_demo"
    assert not Client().login(username="kit", password=DEMO_SHOPPER_PASSWORD)
    settings.MINIGO = {**settings.MINIGO, "DEMO": True}
    assert demo_passwords({"kit": shopper}) == ["kit"]
    assert Client().login(username="kit", password=DEMO_SHOPPER_PASSWORD)


def test_a_review_card_shows_the_nearest_frame_with_the_faces_named(store, shopper, manager):
    from store.models import Frame, ShelfEvent
    from store.services.review import review_open
    from store.services.sightings import shelf_frame_apply
    from store.web.review import review_state

    visit, _ = visit_open(shopper=shopper)
    now = timezone.now()
    frame = Frame.objects.create(
        device=store.shelf_device, event_id="f1", captured_at=now, width=320, height=240
    )
    analysis = {
        "source": "face",
        "faces": [
            {
                "shopper": shopper.pk,
                "confidence": 0.7,
                "distance": 0.4,
                "x": 0.1,
                "box": [10, 60, 50, 20],
            },
            {
                "shopper": None,
                "confidence": 1.0,
                "distance": None,
                "x": 0.8,
                "box": [12, 300, 52, 260],
            },
        ],
    }
    Frame.objects.filter(pk=frame.pk).update(
        result=shelf_frame_apply(frame=frame, analysis=analysis)
    )
    event = ShelfEvent.objects.create(
        device=store.shelf_device,
        event_id="e1",
        slot_code="A1",
        sensor="load_cell",
        before=4200,
        after=3850,
        occurred_at=now + timedelta(seconds=1),
    )
    review_open(
        reason="who_unknown",
        shelf_event=event,
        slot=store.a1,
        product=store.cola,
        quantity=1,
        candidates=[
            {
                "visit": visit.pk,
                "shopper": shopper.pk,
                "name": "Kit",
                "confidence": 0.55,
                "evidence": "camera",
                "dt_s": 1.0,
                "share": 0.5,
            }
        ],
    )
    card = review_state()["items"][0]
    assert card["frame"]["frame"] == frame.pk and card["frame"]["has_image"] is False
    assert [(b["label"], b["xyxy"]) for b in card["frame"]["boxes"]] == [
        ("Kit", [20.0, 10.0, 60.0, 50.0]),
        ("face", [260.0, 12.0, 300.0, 52.0]),
    ]
    assert card["candidates"][0]["evidence"] == (
        "seen by the shelf camera 1.0 s from the pick, one of several faces there "
        "(50 % of what the camera saw)"
    )

"""The manager dashboard and the shopper app in a real browser against a real daphne server:
entries, picks and exits show up live, without a reload, and survive a dropped connection."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_post, shelf_event, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_entry_pick_and_exit_appear_live_on_both_pages(server, login, store, manager, shopper):
    store.a1.stock = 4
    store.a1.low_stock_threshold = 3
    store.a1.save()
    boss = login("manager")
    expect(boss.locator("#live-status")).to_have_text("Live")
    expect(boss.locator("#visits-empty")).to_be_visible()
    expect(boss.locator('[data-device="shelf-1"]')).to_contain_text("No recent frame")

    phone = login("kit", phone=True)
    expect(phone.locator("#live-status")).to_have_text("Live")
    expect(phone.locator("#store-status")).to_contain_text("not in the store")

    # Entry: the manager lets Kit in (inside the server, so the broadcast is real).
    opened = api_post(boss, "/api/visits/admit/", {"shopper": shopper.pk})
    assert opened["status"] == 201, opened
    visit_id = opened["body"]["id"]
    card = boss.locator(f'#visits [data-visit="{visit_id}"]')
    expect(card).to_contain_text("Kit")
    expect(boss.locator("#instore-count")).to_have_text("1")
    expect(boss.locator("#feed")).to_contain_text("Kit walked in")
    expect(phone.locator("#store-status")).to_contain_text("In the store")

    # A pick on the shelf: two colas leave slot A1 (700 g), sent by the shelf's agent.
    ack = shelf_event(
        server, store.tokens["shelf-1"], event_id="e2e-1", slot="A1", before=4200, after=3500
    )
    assert ack["type"] == "ack", ack
    expect(phone.locator("#cart")).to_contain_text("2 × Cola 330ml")
    expect(phone.locator("#cart-total")).to_have_text("3.00")
    expect(card).to_contain_text("2 × Cola 330ml")
    expect(card.locator(".cart-total")).to_have_text("3.00")
    expect(boss.locator("#feed")).to_contain_text("Kit took 2 × Cola 330ml")
    expect(boss.locator("#low-stock")).to_contain_text("A1 Cola 330ml: 2 left")
    # One is put back: the cart follows, still without a reload.
    shelf_event(
        server, store.tokens["shelf-1"], event_id="e2e-2", slot="A1", before=3500, after=3850
    )
    expect(phone.locator("#cart")).to_contain_text("1 × Cola 330ml")
    expect(phone.locator("#cart-total")).to_have_text("1.50")
    shot(boss, "manager-live-desktop")
    shot(phone, "shopper-cart-phone")

    # Exit: the visit closes; the receipt appears on the phone, the shopper leaves the list.
    closed = api_post(boss, f"/api/visits/{visit_id}/close/")
    assert closed["status"] == 200, closed
    expect(phone.locator("#receipt-box")).to_be_visible()
    expect(phone.locator("#receipt")).to_contain_text(closed["body"]["number"])
    expect(phone.locator("#receipt-total")).to_have_text("1.50 EUR")
    expect(phone.locator("#receipt-box")).to_be_focused()
    expect(boss.locator("#visits-empty")).to_be_visible()
    expect(boss.locator("#feed")).to_contain_text(f"Receipt {closed['body']['number']}")
    shot(phone, "shopper-receipt-phone")
    # …and by email, sent by the server's mail backend.
    mails = server.mails()
    assert any(closed["body"]["number"] in m and "kit@example.com" in m for m in mails), mails


def test_a_page_reconnects_after_a_drop_and_catches_up(server, login, store, shopper):
    from store.services.carts import cart_take
    from store.services.visits import visit_open

    visit, _ = visit_open(shopper=shopper)
    phone = login("kit", phone=True)
    expect(phone.locator("#live-status")).to_have_text("Live")
    expect(phone.locator("#cart")).to_contain_text("Your cart is empty")
    server.stop()
    expect(phone.locator("#live-status")).to_have_text("Reconnecting…")
    # While the server is down the cart changes: no page can hear about it.
    cart_take(visit=visit, product=store.chips, quantity=3, slot=store.a2)
    server.start()
    expect(phone.locator("#live-status")).to_have_text("Live", timeout=30_000)
    expect(phone.locator("#cart")).to_contain_text("3 × Crisps")
    expect(phone.locator("#cart-total")).to_have_text("3.30")


def test_screenshots_of_the_main_pages(server, login, store, manager, shopper):
    from store.services.carts import cart_take
    from store.services.visits import visit_close, visit_open

    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=2, slot=store.a1)
    receipt = visit_close(visit=visit)
    boss = login("manager")
    for path, name in [
        ("/manager/inventory/", "manager-inventory"),
        ("/manager/review/", "manager-review"),
        ("/manager/kiosk/", "manager-kiosk"),
        ("/manager/receipts/?q=Kit", "manager-receipts"),
        ("/manager/disputes/", "manager-disputes"),
    ]:
        boss.goto(path)
        expect(boss.locator("h1")).to_be_visible()
        shot(boss, f"{name}-desktop")
    boss.goto("/manager/analytics/")
    expect(boss.locator("body")).to_have_attribute("data-charts-ready", "1")
    expect(boss.locator("#top-table")).to_contain_text("Cola 330ml")
    shot(boss, "manager-analytics-desktop")
    boss.set_viewport_size({"width": 360, "height": 740})
    boss.goto("/manager/")
    expect(boss.locator("#live-status")).to_have_text("Live")
    _assert_fits(boss)
    shot(boss, "manager-live-phone")

    phone = login("kit", phone=True)
    expect(phone.locator("#receipt-box")).to_be_visible()
    _assert_fits(phone)
    for path, name in [
        ("/app/enrol/", "shopper-enrol"),
        ("/app/receipts/", "shopper-receipts"),
        (f"/app/receipts/{receipt.pk}/", "shopper-receipt-detail"),
    ]:
        phone.goto(path)
        expect(phone.locator("h1")).to_be_visible()
        _assert_fits(phone)
        shot(phone, f"{name}-phone")
    # Report a problem on the receipt line, from the phone.
    phone.get_by_text("Report a problem").click()
    phone.get_by_label("What happened?").fill("Only one cola")
    phone.get_by_role("button", name="Send").click()
    expect(phone.locator(".messages")).to_contain_text("the store will look at it")
    boss.set_viewport_size({"width": 1280, "height": 900})
    boss.goto("/manager/disputes/")
    expect(boss.locator("main")).to_contain_text("Only one cola")
    boss.get_by_role("button", name="Refund").click()
    expect(boss.locator(".messages")).to_contain_text("refunded")
    phone.goto("/app/")
    phone.set_viewport_size({"width": 1280, "height": 900})
    shot(phone, "shopper-app-desktop")


def _assert_fits(page) -> None:
    """Usable at 360 px: nothing forces the page to scroll sideways."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px too wide"
    assert re.match(r"http://127\.0\.0\.1:\d+/", page.url)

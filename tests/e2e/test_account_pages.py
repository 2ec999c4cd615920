"""The counter (accounts), restock and shopper account pages in a real browser against a
real daphne server, at phone (390×844) and desktop (1280×800) size."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_post, shelf_event, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 800}}


def fits_width(page) -> bool:
    """Nothing sticks out sideways (tables scroll inside their own box)."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_staff_take_a_top_up_and_check_an_age_at_the_counter(
    server, open_page, store, manager, shopper, size
):
    page = open_page("manager", SIZES[size])
    page.goto("/manager/accounts/")
    expect(page.locator("#live-status")).to_have_text("Live")
    page.get_by_label("Name, username or email").fill("kit")
    page.get_by_role("button", name="Search").click()
    row = page.locator(f'#shoppers tr[data-shopper="{shopper.pk}"]')
    expect(row).to_contain_text("0.00")
    row.get_by_role("button", name="Top up").click()
    expect(page.locator("#topup-who")).to_contain_text("Kit (kit)")
    page.get_by_label("Amount").fill("12.50")
    page.get_by_label("Paid by").select_option("card")
    page.get_by_role("button", name="Record top-up").click()
    expect(page.locator("#topup-msg")).to_have_text("Recorded. New balance 12.50.")
    expect(row).to_contain_text("12.50")
    expect(page.locator("#cashup")).to_contain_text("Paid in (card)")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Verify age").click()
    expect(row.locator(".ok")).to_have_text("verified")
    href = page.locator("#cashup-csv").get_attribute("href")
    assert re.fullmatch(r"/manager/cashup\.csv\?day=\d{4}-\d{2}-\d{2}", href), href
    assert fits_width(page)
    shot(page, f"manager-accounts-{size}")
    row.get_by_role("link", name="Statement").click()
    # A tab store (the default): money paid in settles the tab.
    expect(page.locator("table")).to_contain_text("Tab settled (card)")
    expect(page.locator("#closing")).to_have_text("12.50")
    shopper.refresh_from_db()
    assert shopper.age_verified_by == manager


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_shopper_sees_the_balance_move_live_and_announces_companions(
    server, open_page, store, manager, shopper, size
):
    from store.models import StorePolicy

    StorePolicy.objects.create(pk=1, account_mode="prepaid", entry_floor=0)
    boss = open_page("manager", SIZES["desktop"])
    phone = open_page("kit", SIZES[size])
    phone.goto("/app/account/")
    expect(phone.locator("#live-status")).to_have_text("Live")
    expect(phone.locator("#balance")).to_have_text("0.00")
    expect(phone.locator("#group-state")).to_have_text("Just you.")
    reply = api_post(boss, f"/manager/accounts/{shopper.pk}/topup/", {"amount": "20"})
    assert reply["status"] == 200, reply
    expect(phone.locator("#balance")).to_have_text("20.00")
    expect(phone.locator("#entries")).to_contain_text("Top-up")
    phone.get_by_label("People with me").select_option("2")
    phone.get_by_role("button", name="Save").click()
    expect(phone.locator("#group-state")).to_contain_text("+2: walk in together")
    assert fits_width(phone)
    shot(phone, f"shopper-account-{size}")


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_staff_record_a_delivery_and_see_stock_move_live(
    server, open_page, store, manager, shopper, size
):
    from store.services.storetime import store_today

    store.a2.stock, store.a2.low_stock_threshold = 4, 3
    store.a2.save()
    page = open_page("manager", SIZES[size])
    page.goto("/manager/restock/")
    expect(page.locator("#live-status")).to_have_text("Live")
    row = page.locator(f'#restock tr[data-slot="{store.a1.pk}"]')
    expect(row).to_contain_text("12 / 20")
    row.get_by_role("button", name="Record").click()
    expect(page.get_by_label("Items")).to_have_value("8")
    page.get_by_label("Items").fill("3")
    page.get_by_label("Batch / lot").fill("LOT-7")
    page.get_by_label("Best before").fill((store_today() + timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Record delivery").click()
    expect(page.locator("#record-msg")).to_have_text("Recorded: the slot holds 15 of 20.")
    expect(row).to_contain_text("15 / 20")
    expect(page.locator("#expiring")).to_contain_text("LOT-7")
    expect(page.locator("#history tbody tr").first).to_contain_text("Restocked")
    expect(page.locator("#history tbody tr").first).to_contain_text("manager")
    # A shopper takes crisps: the slot falls to its threshold, the alert shows at once.
    assert api_post(page, "/api/visits/admit/", {"shopper": shopper.pk})["status"] == 201
    ack = shelf_event(
        server, store.tokens["shelf-1"], event_id="e2e-r1", slot="A2", before=180, after=135
    )
    assert ack["type"] == "ack", ack
    expect(page.locator("#alert")).to_contain_text("Low: Crisps at Drinks/A2 (3 left)")
    expect(page.locator(f'#restock tr[data-slot="{store.a2.pk}"]')).to_contain_text("3 / 20")
    assert fits_width(page)
    shot(page, f"manager-restock-{size}")


def test_a_refused_entry_shows_on_the_gate_and_the_phone(server, open_page, store, shopper):
    """A QR code at the entry gate of a prepaid store, balance below the floor: the gate's
    greeting says why, the phone says why at once, and no visit opens."""
    import json
    import time

    from django.core.cache import cache
    from websockets.sync.client import connect

    from edge_agent import protocol
    from store.models import StorePolicy, Visit
    from store.replay.build import qr_jpeg
    from store.services.account_ledger import account_post
    from store.services.qr import qr_issue

    cache.delete(f"minigo:entry-refused:{shopper.pk}")  # shared with the server on Redis
    StorePolicy.objects.create(pk=1, account_mode="prepaid", entry_floor=0)
    account_post(shopper=shopper, kind="adjustment", amount=-2)
    phone = open_page("kit", SIZES["phone"])
    phone.goto("/app/")
    expect(phone.locator("#live-status")).to_have_text("Live")
    frame = protocol.encode_frame(
        event_id="q1", ts=time.time(), jpeg=qr_jpeg(qr_issue(shopper=shopper).token)
    )
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/device/",
        additional_headers={"Authorization": f"Bearer {store.tokens['gate-in']}"},
        open_timeout=10,
    ) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "config"
        ws.send(frame)
        greets = []
        while True:
            msg = json.loads(ws.recv(timeout=60))
            if msg["type"] == "greet":
                greets.append(msg)
            elif msg["type"] == "ack":
                break
        if not greets:  # the greeting follows the ack once the frame is processed
            greets.append(json.loads(ws.recv(timeout=60)))
    assert greets[0]["kind"] == "refused" and "-2.00" in greets[0]["text"], greets
    expect(phone.locator("#store-status")).to_contain_text("top up at the counter")
    expect(phone.locator("#store-status")).to_have_class("error")
    assert not Visit.objects.filter(shopper=shopper).exists()
    phone.wait_for_function("window.__notes.length > 0")
    assert phone.evaluate("window.__notes") == ["Not let in"]
    shot(phone, "shopper-refused-phone")

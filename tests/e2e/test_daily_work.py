"""The manager's and the shopper's daily work in Chromium at 1280×800 and 390×844: no page
scrolls sideways on a phone, a review decided from the phone, a kiosk invite used to sign
in, and the live page without a failed request while a scenario is replayed against it.
Screenshots go to tests/e2e/artifacts."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (
    CHROMIUM_ARGS,  # noqa: F401  (the launch arguments every module shares)
    ROOT,
    Server,
    shot,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """This module's server accepts synthetic (`sees`) frames, for the replay test; pixels are
    dropped after processing, as in production."""
    from django.db import connection

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    previous = os.environ.get("MINIGO_ACCEPT_SEES")
    os.environ["MINIGO_ACCEPT_SEES"] = "true"
    srv = Server(str(db_name), tmp_path_factory.mktemp("daphne"))
    try:
        srv.start()
    finally:
        if previous is None:
            os.environ.pop("MINIGO_ACCEPT_SEES", None)
        else:
            os.environ["MINIGO_ACCEPT_SEES"] = previous
    yield srv
    srv.stop()


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _held_frame(device, when):
    """A shelf camera frame whose pixels the server still holds, with a face box."""
    from PIL import Image, ImageDraw

    from store.models import Frame

    image = Image.new("RGB", (320, 240), "#d0d4da")
    ImageDraw.Draw(image).ellipse([120, 40, 200, 140], fill="#c8a27a")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return Frame.objects.create(
        device=device,
        event_id=f"cam-{when.timestamp()}",
        captured_at=when,
        width=320,
        height=240,
        jpeg=buffer.getvalue(),
        status="applied",
        result={"sightings": {"faces": [{"box": [40, 200, 140, 120], "shopper": None}]}},
    )


def _review(store, *, visits, slot, product, before, after, event_id, frame=True):
    from django.utils import timezone

    from store.models import ShelfEvent
    from store.services.review import review_open

    now = timezone.now()
    event = ShelfEvent.objects.create(
        device=store.shelf_device,
        event_id=event_id,
        slot_code=slot.code,
        sensor="load_cell",
        before=before,
        after=after,
        occurred_at=now,
    )
    if frame:
        _held_frame(store.shelf_device, now + timedelta(seconds=0.4))
    candidates = [
        {
            "visit": v.pk,
            "shopper": v.shopper_id,
            "name": v.shopper.display_name,
            "confidence": c,
            "evidence": "camera" if c else "in_store",
            "dt_s": 0.4,
            "share": 0.6,
        }
        for v, c in visits
    ]
    return review_open(
        reason="who_unknown",
        shelf_event=event,
        slot=slot,
        product=product,
        quantity=1,
        candidates=candidates,
    )


def test_every_manager_and_shopper_page_fits_a_phone_with_screenshots(
    server, open_page, store, manager, shopper
):
    from store.services.carts import cart_take
    from store.services.disputes import dispute_open, dispute_resolve
    from store.services.store_settings import store_settings_update
    from store.services.visits import visit_close, visit_open

    boss = open_page("manager", DESKTOP)
    boss.goto("/manager/analytics/")
    expect(boss.locator("body")).to_have_attribute("data-charts-ready", "1")
    expect(boss.locator("#c-top").locator("xpath=..")).to_contain_text("Nothing sold yet.")
    expect(boss.locator("#c-sales-day").locator("xpath=..")).to_contain_text("No sales")
    shot(boss, "daily-analytics-empty-desktop")

    store_settings_update(
        by=manager,
        name="Corner Pantry",
        address="1 Main Street\n10115 Berlin",
        tax_ids="VAT DE123456789",
        receipt_footer="Thank you!",
    )
    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=3, slot=store.a1)
    cart_take(visit=visit, product=store.chips, quantity=1, slot=store.a2)
    receipt = visit_close(visit=visit)
    line = receipt.lines.get(sku="COLA")
    refund = dispute_open(shopper=shopper, receipt=receipt, line=line, quantity=1, message="one")
    dispute_resolve(dispute=refund, by=manager, refund=True)
    dispute_open(
        shopper=shopper,
        receipt=receipt,
        line=receipt.lines.get(sku="CHIPS"),
        message="I never took crisps, the shelf must have been wrong",
    )
    again, _ = visit_open(shopper=shopper)
    _review(
        store,
        visits=[(again, 0.62)],
        slot=store.a2,
        product=store.chips,
        before=450,
        after=405,
        event_id="fit-1",
    )

    manager_pages = [
        ("/manager/", "live"),
        ("/manager/inventory/", "inventory"),
        ("/manager/review/", "review"),
        ("/manager/kiosk/", "kiosk"),
        ("/manager/receipts/", "receipts"),
        (f"/manager/receipts/{receipt.pk}/", "receipt"),
        ("/manager/disputes/", "disputes"),
        ("/manager/analytics/", "analytics"),
        ("/manager/settings/", "settings"),
        ("/manager/accounts/", "accounts"),
        (f"/manager/accounts/{shopper.pk}/", "statement"),
        ("/manager/restock/", "restock"),
    ]
    shopper_pages = [
        ("/app/", "app"),
        ("/app/enrol/", "enrol"),
        ("/app/receipts/", "receipts"),
        (f"/app/receipts/{receipt.pk}/", "receipt"),
        ("/app/account/", "account"),
    ]
    kit = open_page("kit", DESKTOP)
    anonymous = open_page("", DESKTOP)
    public_pages = [
        ("/accounts/login/", "login"),
        ("/signup/", "signup"),
        ("/accounts/password_reset/", "password-reset"),
        ("/no/such/page/", "not-found"),
    ]
    too_wide = []
    for page, pages, who in (
        (boss, manager_pages, "manager"),
        (kit, shopper_pages, "shopper"),
        (anonymous, public_pages, "public"),
    ):
        for viewport, size in ((DESKTOP, "desktop"), (PHONE, "phone")):
            page.set_viewport_size(viewport)
            for path, name in pages:
                page.goto(path)
                expect(page.locator("h1").first).to_be_visible()
                if name == "analytics":
                    expect(page.locator("body")).to_have_attribute("data-charts-ready", "1")
                if name in ("review", "live") and who == "manager":
                    expect(page.locator("#live-status")).to_have_text("Live")
                if name == "review":
                    expect(page.locator(".review-card")).to_have_count(1)
                if overflow(page) > 1:
                    too_wide.append(f"{path} at {size}: {overflow(page)} px too wide")
                shot(page, f"daily-{who}-{name}-{size}")
            if size == "phone" and who == "manager":
                # The manager nav stays one compact line on a phone.
                height = page.evaluate("document.querySelector('header.top').offsetHeight")
                assert height <= 60, f"the header takes {height} px on a phone"
    assert not too_wide, too_wide

    # The receipt says who sold it, the tax per rate and the refund, and prints cleanly.
    kit.set_viewport_size(PHONE)
    kit.goto(f"/app/receipts/{receipt.pk}/")
    paper = kit.locator(".receipt-paper")
    for text in ("Corner Pantry", "1 Main Street", "VAT DE123456789", "Tax included", "1 refunded"):
        expect(paper).to_contain_text(text)
    # The refund revised the receipt: 4.50 + 1.10 − 1.50.
    expect(paper.locator(".receipt-total")).to_have_text("4.10 EUR")
    kit.emulate_media(media="print")
    expect(kit.locator("header.top")).to_be_hidden()
    expect(kit.get_by_role("button", name="Print")).to_be_hidden()
    shot(kit, "daily-shopper-receipt-print")
    kit.emulate_media(media="screen")
    # Inventory on a phone: readable sensor names and the tax as a percentage.
    boss.set_viewport_size(PHONE)
    boss.goto("/manager/inventory/")
    row = boss.locator(f'tr[data-product="{store.cola.pk}"]')
    expect(row.get_by_label("Tax rate of COLA in percent")).to_have_value("20")
    expect(boss.locator(f"#s-{store.a1.pk} option:checked")).to_have_text("Load cell (grams)")
    name_box = row.get_by_label("Name of COLA").bounding_box()
    assert name_box["width"] >= 150, "product names must not be cut to a few letters"
    row.get_by_label("Tax rate of COLA in percent").fill("7")
    row.get_by_role("button", name="Save").click()
    expect(boss.locator("#inv-msg")).to_have_text("COLA saved.")
    store.cola.refresh_from_db()
    assert str(store.cola.tax_rate) == "0.0700"


def test_a_review_is_decided_from_the_phone(
    server, open_page, store, manager, shopper, other_shopper
):
    from store.models import CartEntry, ReviewItem
    from store.services.review import review_resolve
    from store.services.visits import visit_open

    kit_visit, _ = visit_open(shopper=shopper)
    ana_visit, _ = visit_open(shopper=other_shopper)
    first = _review(
        store,
        visits=[(kit_visit, 0.71), (ana_visit, 0.0)],
        slot=store.a2,
        product=store.chips,
        before=450,
        after=405,
        event_id="p-1",
    )
    second = _review(
        store,
        visits=[(kit_visit, 0.3), (ana_visit, 0.3)],
        slot=store.a1,
        product=store.cola,
        before=4200,
        after=3850,
        event_id="p-2",
        frame=False,
    )
    third = _review(
        store,
        visits=[(ana_visit, 0.4)],
        slot=store.a1,
        product=store.cola,
        before=3850,
        after=3500,
        event_id="p-3",
        frame=False,
    )
    phone = open_page("manager", PHONE)
    phone.goto("/manager/review/")
    expect(phone.locator("#live-status")).to_have_text("Live")
    card = phone.locator(f'article[data-item="{first.pk}"]')
    expect(card.locator("h2")).to_have_text("Who took it?")
    expect(card).to_contain_text("1 × Crisps taken from Drinks/A2; the camera could not tell who.")
    expect(card).to_contain_text("seen by the shelf camera 0.4 s from the pick")
    # The top candidate leads clearly: it is the one primary button; 0 % ones look weak.
    expect(card.locator("button.give").first).to_have_class("give")
    expect(card.get_by_role("button", name="Give 1 × Crisps to Ana")).to_have_class("give weak")
    # Compact on a phone: the evidence is folded until asked for.
    evidence = card.locator("details.evidence")
    expect(evidence).not_to_have_attribute("open", "")
    evidence.locator("summary").click()
    expect(card.locator(".trace svg")).to_be_visible()
    expect(card.locator(".frame canvas")).to_be_visible()
    expect(card.locator(".frame-note")).to_contain_text("Camera at")
    assert overflow(phone) <= 1
    shot(phone, "daily-review-phone")
    # Filter by shelf slot reason and sort: the newest first.
    phone.locator("#f-sort").select_option("newest")
    expect(phone.locator("article.review-card").first).to_have_attribute("data-item", str(third.pk))
    # A decision someone else made meanwhile is reported on the card, not at the page top.
    review_resolve(item=ReviewItem.objects.get(pk=second.pk), by=manager, dismiss=True)
    second_card = phone.locator(f'article[data-item="{second.pk}"]')
    second_card.get_by_role("button", name="Give 1 × Cola 330ml to Kit").click()
    expect(second_card.locator(".card-msg")).to_have_text(
        "Not done: Someone already decided this one."
    )
    # Decided in one tap.
    card.get_by_role("button", name="Give 1 × Crisps to Kit").click()
    expect(phone.locator("#review-msg")).to_have_text("Given to Kit.")
    expect(card).to_have_count(0)
    entry = CartEntry.objects.get(review_item=first)
    assert (entry.visit_id, entry.product_id, entry.quantity) == (kit_visit.pk, store.chips.pk, 1)
    # Bulk dismiss what is left.
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.locator("#select-all").check()
    phone.locator("#bulk-dismiss").click()
    expect(phone.locator("#review-empty")).to_be_visible()
    assert ReviewItem.objects.get(pk=third.pk).status == "dismissed"
    shot(phone, "daily-review-phone-done")


def test_a_kiosk_invite_signs_a_shopper_in(server, open_page, store, manager):
    boss = open_page("manager", DESKTOP)
    boss.goto("/manager/kiosk/")
    boss.get_by_label("Username").fill("bea")
    boss.get_by_label("Name shown on receipts").fill("Bea")
    boss.get_by_role("button", name="Enrol shopper").click()
    invite = boss.locator("#invite-box")
    expect(invite).to_be_visible()
    expect(invite.locator("svg")).to_be_visible()
    expect(boss.locator("#invite-username")).to_have_text("bea")
    url = boss.locator("#invite-link").get_attribute("href")
    assert "/invite/" in url
    shot(boss, "daily-kiosk-invite-desktop")
    boss.emulate_media(media="print")
    expect(boss.locator("#kiosk-main")).to_be_hidden()
    expect(invite).to_be_visible()
    shot(boss, "daily-kiosk-invite-print")

    phone = open_page("", PHONE)
    phone.goto(url.split(server.url, 1)[-1])
    expect(phone.locator("h1")).to_have_text("Welcome, Bea")
    phone.get_by_label("New password").fill("walk-out-4711")
    phone.get_by_label("Repeat the password").fill("walk-out-4711")
    shot(phone, "daily-invite-phone")
    phone.get_by_role("button", name="Set my password and sign in").click()
    phone.wait_for_url(re.compile(r"/app/"))
    expect(phone.locator(".messages")).to_contain_text("you are signed in")
    assert overflow(phone) <= 1
    # The link worked once; the password works from now on.
    phone.goto(url.split(server.url, 1)[-1])
    expect(phone.locator("h1")).to_have_text("This link no longer works")
    again = open_page("bea", PHONE, password="walk-out-4711")
    expect(again.locator("h1")).to_contain_text("Hi Bea")
    # A card lost later: staff make a new one for the shopper by name.
    boss.emulate_media(media="screen")
    boss.get_by_role("button", name="Next shopper").click()
    expect(invite).to_be_hidden()
    boss.get_by_label("Enrolled shopper to make a card for").fill("Be")
    expect(boss.locator("#reissue-options option")).to_have_count(1)
    boss.get_by_role("button", name="Make sign-in card").click()
    expect(invite).to_be_visible()
    expect(boss.locator("#invite-username")).to_have_text("bea")
    assert boss.locator("#invite-link").get_attribute("href") != url
    # Money and the age check are the counter's: the card opens it on this shopper.
    boss.get_by_role("link", name="Top up or check age").click()
    boss.wait_for_url(re.compile(r"/manager/accounts/\?q=bea$"))
    expect(boss.locator("#shoppers tbody tr")).to_have_count(1)
    expect(boss.locator("#shoppers tbody tr")).to_contain_text("Bea")


def test_the_live_page_has_no_failed_requests_over_a_replay(server, open_page, manager, tmp_path):
    from store.replay.simulate import Params, generate, write

    scenario = tmp_path / "scenario.jsonl"
    write(generate(Params(shoppers=3, seed=5, picks=8)), scenario)
    boss = open_page("manager", DESKTOP)  # signing in lands on the live page
    expect(boss).to_have_url(re.compile(r"/manager/$"))
    expect(boss.locator("#live-status")).to_have_text("Live")
    # Watched from here on: leaving a page would abort its own requests.
    failures: list[str] = []
    boss.on("requestfailed", lambda r: failures.append(f"{r.url} {r.failure}"))
    boss.on("response", lambda r: r.status >= 400 and failures.append(f"{r.status} {r.url}"))
    expect(boss.locator("#feed-empty")).to_be_visible()
    env = {**os.environ, "MINIGO_DB_NAME": server.db_name, "PYTHONPATH": str(ROOT)}
    played = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "replay",
            str(scenario),
            "--server",
            server.url,
            "--setup",
            "--speed",
            "8",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert played.returncode == 0, played.stderr[-2000:]
    assert "errors 0" in played.stdout, played.stdout[-2000:]
    expect(boss.locator("#feed")).to_contain_text("walked out", timeout=30_000)
    expect(boss.locator("#feed")).to_contain_text("Receipt")
    expect(boss.locator("#feed-empty")).to_be_hidden()
    # The replay's devices (under its own names) each show their latest frame or say why not.
    expect(boss.locator(".device").first).to_be_visible()
    shelves = boss.locator('.device[data-device*="shelf"]')
    assert shelves.count() >= 1
    for k in range(shelves.count()):
        expect(shelves.nth(k).locator(".frame canvas, .frame .frame-empty")).to_have_count(1)
    boss.wait_for_timeout(6000)  # one more device refresh round with every pixel dropped
    # No black squares: a frame without pixels is drawn as its boxes on a light schematic.
    dark = boss.evaluate(
        """() => [...document.querySelectorAll('.device canvas')].filter((c) => {
             const [r, g, b] = c.getContext('2d').getImageData(2, 2, 1, 1).data;
             return r + g + b < 150; }).length"""
    )
    assert dark == 0
    shot(boss, "daily-live-after-replay-desktop")
    boss.set_viewport_size(PHONE)
    assert overflow(boss) <= 1
    shot(boss, "daily-live-after-replay-phone")
    assert failures == []


def test_a_shopper_is_let_in_by_hand_from_the_live_page(server, open_page, store, manager, shopper):
    from store.models import Visit

    phone = open_page("manager", PHONE)
    phone.goto("/manager/")
    expect(phone.locator("#live-status")).to_have_text("Live")
    expect(phone.locator("#visits-empty")).to_be_visible()
    phone.get_by_text("Let a shopper in by hand").click()
    phone.get_by_label("Shopper name or username").fill("Ki")
    expect(phone.locator("#admit-options option")).to_have_count(1)
    phone.get_by_label("Shopper name or username").fill("Kit (kit)")
    phone.get_by_role("button", name="Let in").click()
    expect(phone.locator("#admit-msg")).to_have_text("Kit (kit) is in the store.")
    visit = phone.locator(f'#visits [data-shopper="{shopper.pk}"]')
    expect(visit).to_contain_text("let in by hand")
    assert Visit.objects.get(shopper=shopper, status="open").entry_method == "manual"
    assert overflow(phone) <= 1
    shot(phone, "daily-live-admit-phone")

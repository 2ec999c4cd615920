"""The manager dashboard and the shopper app in a real browser against a real daphne server:
entries, picks and exits show up live, without a reload, and survive a dropped connection."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import api_post, shelf_event, shelf_heartbeat, shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_entry_pick_and_exit_appear_live_on_both_pages(server, login, store, manager, shopper):
    store.a1.stock = 4
    store.a1.low_stock_threshold = 3
    store.a1.save()
    boss = login("manager")
    expect(boss.locator("#live-status")).to_have_text("Live")
    expect(boss.locator("#visits-empty")).to_be_visible()
    expect(boss.locator('[data-device="shelf-1"]')).to_contain_text("No camera frame yet")

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

    # Exit: the manager closes the visit of a shopper who walked out unseen. The shelf has not
    # reported past the exit yet: the phone says "Finalising…", the live page lists the visit
    # as settling; once the shelf's watermark arrives the receipt replaces it.
    boss.once("dialog", lambda dialog: dialog.accept())
    card.get_by_role("button", name="Walked out: close the visit of Kit").click()
    expect(phone.locator("#receipt-finalising")).to_have_text("Finalising your receipt…")
    expect(boss.locator("#settling")).to_contain_text("waiting for shelf-1")
    reply = shelf_heartbeat(server, store.tokens["shelf-1"], watermark=time.time())
    assert reply["type"] == "heartbeat_ack", reply
    expect(phone.locator("#receipt-box")).to_be_visible()
    expect(boss.locator("#settling")).to_contain_text("None.")
    from store.models import Receipt

    number = Receipt.objects.get(visit_id=visit_id).number
    expect(phone.locator("#receipt")).to_contain_text(number)
    expect(phone.locator("#receipt-total")).to_have_text("1.50 EUR")
    expect(phone.locator("#receipt-box")).to_be_focused()
    expect(boss.locator("#visits-empty")).to_be_visible()
    expect(boss.locator("#feed")).to_contain_text(f"Receipt {number}")
    phone.wait_for_function("window.__notes.length > 0")
    assert phone.evaluate("window.__notes") == [f"Receipt {number}"]
    shot(phone, "shopper-receipt-phone")
    # …and by email, sent by the server's mail backend.
    # The mail goes out once the receipt is committed, a moment after the page heard of it.
    deadline = time.monotonic() + 10
    while not any(number in m for m in server.mails()) and time.monotonic() < deadline:
        time.sleep(0.2)
    mails = server.mails()
    assert any(number in m and "kit@example.com" in m for m in mails), mails


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
    _camera_frame(store.shelf_device)
    boss = login("manager")
    expect(boss.locator('[data-device="shelf-1"] canvas')).to_have_attribute(
        "aria-label", re.compile(r"COLA, face")
    )
    boss.goto("/manager/inventory/")
    row = boss.locator(f'tr[data-slot="{store.a2.pk}"]')
    row.get_by_label("Items to add to A2").fill("2")
    row.get_by_role("button", name="Restock").click()
    expect(row.locator(".stock-value")).to_have_text("12")
    expect(boss.locator("#inv-msg")).to_contain_text("restocked")
    product_row = boss.locator(f'tr[data-product="{store.chips.pk}"]')
    product_row.get_by_label("Price of CHIPS").fill("1.25")
    product_row.get_by_role("button", name="Save").click()
    expect(boss.locator("#inv-msg")).to_have_text("CHIPS saved.")
    store.chips.refresh_from_db()
    assert str(store.chips.price) == "1.25"
    for path, name in [
        ("/manager/inventory/", "manager-inventory"),
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
    expect(boss.locator("#feed")).to_contain_text("Kit walked out")
    expect(boss.locator('[data-device="shelf-1"] canvas')).to_be_visible()
    _assert_fits(boss)
    shot(boss, "manager-live-phone")

    phone = login("kit", phone=True)
    expect(phone.locator("#receipt-box")).to_be_visible()
    _assert_fits(phone)
    for path, name in [
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
    expect(phone.locator("#live-status")).to_have_text("Live")
    boss.get_by_role("button", name="Refund").click()
    expect(boss.locator(".messages")).to_contain_text("refunded")
    # The shopper, still on the receipt, hears the decision at once.
    expect(phone.locator("#dispute-news")).to_contain_text("refunded 1.50")
    phone.goto("/app/")
    phone.set_viewport_size({"width": 1280, "height": 900})
    shot(phone, "shopper-app-desktop")


def _assert_fits(page) -> None:
    """Usable at 360 px: nothing forces the page to scroll sideways."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px too wide"
    assert re.match(r"http://127\.0\.0\.1:\d+/", page.url)


def _camera_frame(device) -> None:
    """A shelf camera frame still held by the server, with its vision boxes."""
    import io

    from django.utils import timezone
    from PIL import Image, ImageDraw

    from store.models import Frame

    image = Image.new("RGB", (320, 240), "#d0d4da")
    ImageDraw.Draw(image).rectangle([40, 60, 120, 200], fill="#c00000")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    Frame.objects.create(
        device=device,
        event_id="cam-1",
        captured_at=timezone.now(),
        width=320,
        height=240,
        jpeg=buffer.getvalue(),
        status="applied",
        result={
            "detections": [{"xyxy": [40, 60, 120, 200], "label": "COLA", "confidence": 0.91}],
            "faces": [{"location": [10, 300, 80, 230], "name": ""}],
        },
    )


def test_a_review_is_resolved_in_one_click_and_the_cart_updates_live(
    server, login, store, manager, shopper, other_shopper
):
    boss = login("manager")
    boss.goto("/manager/review/")
    expect(boss.locator("#live-status")).to_have_text("Live")
    for who in (shopper, other_shopper):
        assert api_post(boss, "/api/visits/admit/", {"shopper": who.pk})["status"] == 201
    phone = login("kit", phone=True)
    expect(phone.locator("#cart")).to_contain_text("Your cart is empty")
    # Two shoppers in the store and no camera evidence: who took the crisps goes to review.
    shelf_event(server, store.tokens["shelf-1"], event_id="r-1", slot="A2", before=450, after=405)
    item = boss.locator("#review-items article")
    # The pick first waits for camera evidence (attribution window + grace, 4 s by default)
    # and is then decided by the server's periodic settle: allow for both.
    expect(item).to_contain_text("Who took it?", timeout=15_000)
    expect(item).to_contain_text("Load cell (grams): 450 → 405 g")
    shot(boss, "manager-review-desktop")
    item.get_by_role("button", name="Give 1 × Crisps to Kit").click()
    expect(boss.locator("#review-msg")).to_contain_text("Given to Kit")
    expect(phone.locator("#cart")).to_contain_text("1 × Crisps")
    expect(phone.locator("#cart-total")).to_have_text("1.10")
    expect(boss.locator("#review-empty")).to_be_visible()


def test_enrolment_pages_send_camera_photos_in_the_api_contract(
    server, login, store, manager, shopper
):
    """The enrolment API is stubbed in the browser (tests/store/test_face_api.py tests it), so
    this test checks what these pages send and how they show the answers."""
    boss = login("manager")
    sent: dict = {}

    def create(route, request):
        sent["create"] = request.post_data_json
        route.fulfill(status=201, json={"id": 99, "display_name": "Lee"})

    def faces(route, request):
        sent["images"] = request.post_data_buffer.count(b'name="images"')
        route.fulfill(status=200, json={"added": 2, "errors": []})

    boss.route("**/api/shoppers/", create)
    boss.route("**/api/shoppers/99/faces/", faces)
    boss.goto("/manager/kiosk/")
    boss.get_by_label("Username").fill("lee")
    boss.get_by_label("Name shown on receipts").fill("Lee")
    boss.get_by_label("Email for receipts").fill("lee@example.com")
    boss.get_by_label("The shopper agrees").check()
    boss.get_by_role("button", name="Start camera").click()
    boss.get_by_role("button", name="Take photo").click()
    boss.get_by_role("button", name="Take photo").click()
    expect(boss.locator("#k-count")).to_have_text("2 photo(s) ready.")
    shot(boss, "manager-kiosk-desktop")
    boss.get_by_role("button", name="Enrol shopper").click()
    expect(boss.locator("#kiosk-msg")).to_contain_text("Enrolled with 2 face template(s)")
    assert sent == {
        "create": {
            "username": "lee",
            "display_name": "Lee",
            "email": "lee@example.com",
            "face_consent": True,
        },
        "images": 2,
    }

    phone = login("kit", phone=True)
    answers = [(400, {"code": "no_face", "detail": "no face"}), (201, {"embeddings": 1})]
    phone.route("**/api/me/consent/", lambda route: route.fulfill(status=200, json={"face": True}))
    phone.route(
        "**/api/me/face/",
        lambda route: route.fulfill(status=answers[0][0], json=answers.pop(0)[1]),
    )
    phone.goto("/app/enrol/")
    phone.get_by_label("I agree to face recognition").check()
    expect(phone.locator("#consent-msg")).to_contain_text("Consent recorded")
    phone.get_by_role("button", name="Open camera").click()
    phone.get_by_role("button", name="Take selfie").click()
    expect(phone.locator("#selfie-msg")).to_contain_text("No face found")
    phone.get_by_role("button", name="Take selfie").click()
    expect(phone.locator("#selfie-msg")).to_contain_text("the gate will recognise you")
    expect(phone.locator("#face-count")).to_have_text("1")
    _assert_fits(phone)
    shot(phone, "shopper-enrol-phone")

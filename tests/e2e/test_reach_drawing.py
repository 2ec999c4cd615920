"""The manager draws a slot's reach band by dragging across the shelf camera's picture."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import shot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_manager_drags_a_reach_band_across_the_camera_view(server, login, store, manager):
    boss = login("manager")
    boss.goto("/manager/inventory/")
    box = boss.locator(f'[data-reach-shelf="{store.shelf.pk}"]')
    box.get_by_label("Slot").select_option(label="A2")
    view = box.locator(".reach-view")
    frame = view.bounding_box()
    y = frame["y"] + frame["height"] / 2
    boss.mouse.move(frame["x"] + frame["width"] * 0.6, y)
    boss.mouse.down()
    boss.mouse.move(frame["x"] + frame["width"] * 0.4, y, steps=5)
    boss.mouse.move(frame["x"] + frame["width"] * 0.2, y, steps=5)
    boss.mouse.up()
    expect(boss.locator("#inv-msg")).to_contain_text("Reach band of A2 saved")
    band = box.locator(f'[data-reach-slot="{store.a2.pk}"]')
    expect(band).to_be_visible()
    store.a2.refresh_from_db()
    assert store.a2.reach == pytest.approx((0.2, 0.6), abs=0.01)
    drawn = band.bounding_box()
    assert drawn["width"] == pytest.approx(frame["width"] * 0.4, abs=4)
    shot(boss, "manager-inventory-reach-band")
    # Shown again after a reload, and cleared in one click.
    boss.reload()
    expect(box.locator(f'[data-reach-slot="{store.a2.pk}"]')).to_be_visible()
    box.get_by_label("Slot").select_option(label="A2")
    box.get_by_role("button", name="Clear band").click()
    expect(boss.locator("#inv-msg")).to_contain_text("Reach band of A2 cleared")
    store.a2.refresh_from_db()
    assert store.a2.reach is None

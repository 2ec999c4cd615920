from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from store.models import Device, Product, Shelf, Slot


def test_healthz_reports_each_dependency(client, db):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_says_503_when_the_database_is_down(client, db, monkeypatch):
    from store import health

    def down():
        raise ConnectionError("refused")

    monkeypatch.setattr(health, "_database", down)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_the_demo_store_loads_once_and_prints_credentials(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    out = StringIO()
    call_command("demo_store", stdout=out)
    call_command("demo_store", stdout=out)
    text = out.getvalue()
    assert text.count("Manager sign-in: username 'manager'") == 2
    password = (tmp_path / "demo-credentials.txt").read_text().split()[1]
    assert f"password '{password}'" in text
    assert Product.objects.count() == 6 and Shelf.objects.count() == 2
    assert Slot.objects.count() == 6
    assert set(Device.objects.values_list("kind", flat=True)) == {"entry", "exit", "shelf"}
    tokens = (tmp_path / "demo-device-tokens.txt").read_text().split("\n")
    assert len([t for t in tokens if t]) == 4


def test_the_admin_lists_every_model(client, manager):
    client.force_login(manager)
    for url in [
        "/admin/store/product/",
        "/admin/store/shelf/",
        "/admin/store/device/",
        "/admin/store/visit/",
        "/admin/store/cartentry/",
        "/admin/store/receipt/",
        "/admin/store/reviewitem/",
        "/admin/store/shopper/",
        "/admin/store/shelfevent/",
        "/admin/store/faceembedding/",
        "/admin/store/slot/",
    ]:
        assert client.get(url).status_code == 200, url


def test_the_admin_is_staff_only(client, shopper):
    client.force_login(shopper.user)
    response = client.get("/admin/store/product/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]

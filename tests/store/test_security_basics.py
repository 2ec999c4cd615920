"""Rate limits, secrets kept out of logs, CSRF and origin checks on."""

from __future__ import annotations

import logging

import pytest
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from minigo.asgi import application
from minigo.logging_filters import redact


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def test_login_is_rate_limited_per_username(client, manager, settings):
    settings.MINIGO = {**settings.MINIGO, "LOGIN_LIMIT": 3}
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "manager", "password": "no"})
        assert response.status_code == 200  # the form again, with an error
    blocked = client.post("/accounts/login/", {"username": "manager", "password": "pw-manager"})
    assert blocked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_login_still_works_under_the_limit(client, manager):
    response = client.post("/accounts/login/", {"username": "manager", "password": "pw-manager"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(manager.pk)


def test_secrets_are_redacted(store):
    token = store.tokens["shelf-1"]
    assert redact(f"connect with {token}") == "connect with mgd_[redacted]"
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [redacted]"
    assert redact("Cookie: sessionid=s3cr3t; csrftoken=x") == (
        "Cookie: sessionid=[redacted]; csrftoken=[redacted]"
    )


def test_the_configured_log_handler_redacts(capsys, store):
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    logging.getLogger("store.test").warning("device said %s", store.tokens["gate-in"])
    err = capsys.readouterr().err
    assert "mgd_[redacted]" in err
    assert store.tokens["gate-in"] not in err


def test_csrf_is_enforced_on_forms(manager):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "manager", "password": "pw-manager"})
    assert response.status_code == 403


@pytest.mark.django_db(transaction=True)
async def test_the_live_socket_refuses_a_foreign_origin(manager):
    comm = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await comm.connect()
    assert not connected
    await comm.disconnect()  # the refusal closed the socket; this ends the consumer too


def test_enrolment_is_rate_limited(client, shopper, settings):
    from store.models import FaceEmbedding

    settings.MINIGO = {**settings.MINIGO, "ENROL_LIMIT": 2}
    shopper.face_consent = True
    shopper.save()
    client.force_login(shopper.user)
    codes = [client.post("/api/me/face/", {}).json()["code"] for _ in range(3)]
    assert codes == ["image_required", "image_required", "rate_limited"]
    assert client.post("/api/me/face/", {}).status_code == 429
    assert not FaceEmbedding.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_frame_ingestion_is_rate_limited_per_device(store, settings):
    import io
    import time

    from PIL import Image

    from edge_agent import protocol
    from store.models import Frame

    settings.MINIGO = {**settings.MINIGO, "FRAME_RATE_LIMIT": 2}
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "JPEG")
    comm = WebsocketCommunicator(
        application,
        "/ws/device/",
        headers=[(b"authorization", f"Bearer {store.tokens['shelf-1']}".encode())],
    )
    assert (await comm.connect())[0]
    await comm.receive_json_from()  # config
    replies = []
    for i in range(3):
        frame = protocol.encode_frame(event_id=f"f{i}", ts=time.time(), jpeg=buf.getvalue())
        await comm.send_to(bytes_data=frame)
        replies.append(await comm.receive_json_from(timeout=10))
    await comm.disconnect()
    assert [r.get("status") or r.get("code") for r in replies] == [
        "stored",
        "stored",
        "rate_limited",
    ]
    assert replies[2]["event_id"] == "f2"
    assert await Frame.objects.acount() == 2

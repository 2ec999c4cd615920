"""Attacks an outside tester ran against the web side, each reproduced: the per-username
login limit dodged by spelling, NUL bytes and 20-digit limits in queries, a foreign-port
Origin on the live socket, mail printed to the server's output, oversized bodies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator
from django.test import Client

from minigo.request_limits import BodyLimitMiddleware
from store.web.login import login_limit_key

ROOT = Path(__file__).resolve().parents[2]


# --- the per-username login limit ----------------------------------------------------------
@pytest.mark.django_db
def test_the_username_limit_counts_every_spelling_django_signs_in_with(client, manager, settings):
    # A window far longer than the test: the limit counts in fixed windows, and five slow
    # password checks could straddle the end of a short one.
    settings.MINIGO = {**settings.MINIGO, "LOGIN_LIMIT": 3, "LOGIN_WINDOW_S": 10**6}
    spellings = ["manager ", "\tmanager", "ｍａｎａｇｅｒ", "MANAGER", "manager\n"]
    codes = []
    for i, name in enumerate(spellings):
        # Another client address each time: only the per-username limit can stop this.
        response = client.post(
            "/accounts/login/", {"username": name, "password": "no"}, REMOTE_ADDR=f"10.0.0.{i}"
        )
        codes.append(response.status_code)
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    # The right password under the limit's key is refused too: the account is the one guessed.
    blocked = client.post(
        "/accounts/login/",
        {"username": "manager", "password": "pw-manager"},
        REMOTE_ADDR="10.1.1.1",
    )
    assert blocked.status_code == 429


def test_the_limit_key_is_the_same_for_the_spellings_and_differs_for_other_names():
    keys = {
        login_limit_key(n)
        for n in ["mallory", "mallory ", "\tmallory", "ｍａｌｌｏｒｙ", "Mallory"]
    }
    assert len(keys) == 1
    assert login_limit_key("mallory") != login_limit_key("malloryx")


# --- NUL bytes and huge limits ---------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "/manager/receipts/?q=%00",
        "/api/receipts/?q=%00",
        "/api/shoppers/?q=%00",
        "/api/visits/?status=%00",
        "/api/review/?status=%00",
        "/api/products/?x%00=1",
    ],
)
def test_a_nul_byte_in_a_query_is_a_clean_400(client, manager, url):
    client.force_login(manager)
    response = client.get(url)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_query"


@pytest.mark.django_db
def test_a_20_digit_limit_gets_the_largest_page_not_a_500(client, manager, store):
    client.force_login(manager)
    response = client.get("/api/products/?limit=99999999999999999999")
    assert response.status_code == 200
    assert {p["sku"] for p in response.json()["results"]} == {"COLA", "CHIPS"}
    far = client.get("/api/products/?limit=1&offset=99999999999999999999")
    assert far.status_code == 200 and far.json()["results"] == []


@pytest.mark.django_db
def test_a_nul_in_a_form_field_or_a_non_numeric_line_is_refused_cleanly(client, store, shopper):
    from store.services.carts import cart_take
    from store.services.visits import visit_close, visit_open

    visit, _ = visit_open(shopper=shopper)
    cart_take(visit=visit, product=store.cola, quantity=1, slot=store.a1)
    receipt = visit_close(visit=visit)
    line = receipt.lines.get()
    client.force_login(shopper.user)
    url = f"/app/receipts/{receipt.pk}/report/"
    nul = client.post(url, {"line": line.pk, "quantity": 1, "message": "took\x00two"})
    assert (nul.status_code, nul.json()["code"]) == (400, "bad_form")
    assert client.post(url, {"line": "abc", "quantity": 1, "message": "x"}).status_code == 404
    assert not receipt.disputes.exists()


# --- the live socket's origin ---------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (b"http://localhost:8000", b"localhost:8000", True),
        (b"http://localhost:9999", b"localhost:8000", False),
        (b"http://localhost", b"localhost:8000", False),
        (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),
        (b"https://evil.example", b"evil.example", False),  # not an allowed host
        (b"null", b"localhost:8000", False),
    ],
)
async def test_the_live_socket_takes_only_its_own_origin(manager, origin, host, allowed):
    from asgiref.sync import sync_to_async

    from minigo.asgi import application

    client = Client()
    await sync_to_async(client.force_login)(manager)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    comm = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[(b"origin", origin), (b"host", host), (b"cookie", cookie)],
    )
    connected, _ = await comm.connect(timeout=10)
    assert connected is allowed
    await comm.disconnect()


# --- mail never on the server's output -------------------------------------------------------
def _settings_in_subprocess(env: dict[str, str]) -> subprocess.CompletedProcess:
    code = "from django.conf import settings; print(settings.EMAIL_BACKEND)"
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "minigo.settings", "PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_mail_goes_to_files_unless_debug(tmp_path):
    var = {"MINIGO_VAR_DIR": str(tmp_path)}
    assert "filebased" in _settings_in_subprocess(var).stdout
    assert "console" in _settings_in_subprocess({**var, "DEBUG": "true"}).stdout
    refused = _settings_in_subprocess(
        {**var, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    )
    assert refused.returncode != 0 and "DEBUG" in refused.stderr


# --- oversized bodies, in the ASGI layer ------------------------------------------------------
def _run_app(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[list, bool]:
    reached = {"app": False}

    async def app(scope, receive, send):
        reached["app"] = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if message["type"] == "http.disconnect":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list = []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    asyncio.run(BodyLimitMiddleware(app, max_bytes=1000)(scope, receive, send))
    return sent, reached["app"]


def test_a_declared_oversized_body_is_refused_before_the_app_runs():
    sent, reached = _run_app([(b"content-length", b"314572800")], [b""])
    assert sent[0]["status"] == 413 and not reached


def test_a_streamed_oversized_body_is_refused_as_it_passes_the_limit():
    sent, reached = _run_app([], [b"x" * 600, b"x" * 600, b"x" * 600])
    assert reached and sent[0]["status"] == 413
    small, _ = _run_app([(b"content-length", b"600")], [b"x" * 600])
    assert small[0]["status"] == 200

"""End-to-end harness: a real daphne server in a subprocess, serving the test database, and
Debian's Chromium driven by Playwright.

The server shares the test database (a file on SQLite, the test database on PostgreSQL, named
through MINIGO_DB_NAME). Live broadcasts must start inside the server process (the in-memory
channel layer is per process), so tests drive the store through the server: device
websocket messages and staff API calls, never services called in the test process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A synthetic camera for the enrolment pages, without a permission prompt.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

# Records notifications instead of showing them (headless Chromium has no notification UI).
NOTIFICATION_SPY = """
window.__notes = [];
class SpyNotification {
  constructor(title) { window.__notes.push(title); }
  static get permission() { return 'granted'; }
  static requestPermission() { return Promise.resolve('granted'); }
}
window.Notification = SpyNotification;
if (window.ServiceWorkerRegistration) {
  ServiceWorkerRegistration.prototype.showNotification = function (title) {
    window.__notes.push(title);
    return Promise.resolve();
  };
}
"""


def _skip_reason() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs the playwright Python package"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


class Server:
    """daphne on 127.0.0.1, on a port the OS picks the first time (port 0, read back from
    daphne's log) and the same port when restarted, so open pages can reconnect to it."""

    def __init__(self, db_name: str, workdir: Path):
        self.db_name = db_name
        self.workdir = workdir
        self.mail_dir = workdir / "mail"
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DJANGO_SETTINGS_MODULE": "minigo.settings",
            "MINIGO_DB_NAME": self.db_name,
            # No Celery worker runs beside this server: tasks run inside it.
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "EMAIL_FILE_PATH": str(self.mail_dir),
            "LOG_LEVEL": "INFO",
            # Every test signs in through the login form from 127.0.0.1; the login rate
            # limit (per address) is not what these tests are about.
            "MINIGO_LOGIN_LIMIT": "10000",
            "PYTHONUNBUFFERED": "1",
        }
        self.starts += 1
        log = self.workdir / f"daphne-{self.starts}.log"
        self.log_path = log
        endpoint = f"tcp:{self.port}:interface=127.0.0.1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-e", endpoint, "minigo.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace")
            match = re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", text)
            if match:
                self.port = int(match.group(1))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{text[-3000:]}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not start:\n{log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def mails(self) -> list[str]:
        return [p.read_text(errors="replace") for p in sorted(self.mail_dir.glob("*"))]


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    srv = Server(str(db_name), tmp_path_factory.mktemp("daphne"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which Django's ORM takes for
    # async code; the test's own ORM calls are sequential, so that guard does not apply.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            instance = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_page(browser, server):
    """A new browser page at a viewport (narrower than 500 px: a touch phone), each in its
    own context closed after the test, signed in as `username` unless it is empty. Further
    keywords go to the context; `permissions` are granted for the server's origin."""
    contexts = []

    def open_(
        username: str,
        viewport: dict,
        password: str | None = None,
        *,
        permissions: list[str] | None = None,
        **options,
    ):
        phone = viewport["width"] < 500
        context = browser.new_context(
            viewport=viewport, base_url=server.url, is_mobile=phone, has_touch=phone, **options
        )
        if permissions:
            context.grant_permissions(permissions, origin=server.url)
        context.add_init_script(NOTIFICATION_SPY)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if username:
            page.goto("/accounts/login/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(password or "pw-" + username)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/(manager|app)/"))
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def login(open_page):
    """A signed-in browser page for a user (desktop 1280 wide, or a 360-wide phone), allowed
    notifications and the (synthetic) camera."""

    def sign_in(username: str, *, phone: bool = False):
        viewport = {"width": 360, "height": 740} if phone else {"width": 1280, "height": 900}
        return open_page(
            username, viewport, permissions=["notifications", "camera"], device_scale_factor=1
        )

    return sign_in


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def api_post(page, url: str, body: dict | None = None) -> dict:
    """POST as the page's signed-in user, with its CSRF token, from inside the browser."""
    return page.evaluate(
        """async ([url, body]) => {
          const token = document.querySelector('meta[name="csrf-token"]').content;
          const r = await fetch(url, {method: 'POST', credentials: 'same-origin',
            headers: {'X-CSRFToken': token, 'Content-Type': 'application/json'},
            body: JSON.stringify(body || {})});
          return {status: r.status, body: await r.json()};
        }""",
        [url, body],
    )


def shelf_event(server: Server, token: str, *, event_id: str, slot: str, before, after) -> dict:
    """Send one shelf event over the device websocket, as a shelf's agent does."""
    from websockets.sync.client import connect

    with connect(
        f"ws://127.0.0.1:{server.port}/ws/device/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
    ) as ws:
        config = json.loads(ws.recv(timeout=10))
        assert config["type"] == "config", config
        ws.send(
            json.dumps(
                {
                    "type": "shelf_event",
                    "v": 1,
                    "event_id": event_id,
                    "slot": slot,
                    "sensor": "load_cell",
                    "before": before,
                    "after": after,
                    "ts": time.time(),
                }
            )
        )
        while True:
            reply = json.loads(ws.recv(timeout=15))
            if reply.get("type") in ("ack", "error"):
                return reply


def shelf_heartbeat(server: Server, token: str, *, watermark: float) -> dict:
    """Report a shelf's watermark (protocol v2 heartbeat), as its agent does on a `sync`."""
    from websockets.sync.client import connect

    from edge_agent import protocol

    with connect(
        f"ws://127.0.0.1:{server.port}/ws/device/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=10,
    ) as ws:
        json.loads(ws.recv(timeout=10))  # config
        ws.send(protocol.dumps(protocol.heartbeat(ts=time.time(), watermark=watermark)))
        while True:
            reply = json.loads(ws.recv(timeout=15))
            if reply.get("type") in ("heartbeat_ack", "error"):
                return reply

"""The production recipe (deploy/), tried for real: Debian's nginx, configured by
deploy/render_nginx.py, in front of a running daphne. Devices talk through it, a browser
signs in and its live socket connects through it, static files come from nginx, and a
300 MiB POST is refused by nginx while daphne's memory stays flat.

nginx runs from a temporary prefix (its pid, logs and temp files there) on a free loopback
port; it is skipped with a reason where nginx is not installed (.ci/run installs it)."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from PIL import Image
from websockets.asyncio.client import connect

from edge_agent import protocol
from store.models import Frame, ShelfEvent
from tests.edge_agent.daphne_server import DaphneServer, free_port, rss_bytes, stream_post

ROOT = Path(__file__).resolve().parents[2]
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")
MIB = 1024 * 1024

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.slow,
    pytest.mark.skipif(not NGINX, reason="needs nginx (apt-get install nginx; .ci/run does)"),
    pytest.mark.django_db(transaction=True),
]


def _render():
    spec = importlib.util.spec_from_file_location("render_nginx", ROOT / "deploy/render_nginx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.render


class Nginx:
    def __init__(self, prefix: Path, site: str) -> None:
        self.prefix, self.port = prefix, free_port()
        (prefix / "logs").mkdir(parents=True)
        (prefix / "site.conf").write_text(site.replace("@PORT@", str(self.port)))
        # Running as root, nginx's workers would switch to `nobody`, who cannot use this
        # private prefix; as any other user the directive is not needed.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {name}_temp_path {prefix}/{name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            f"{user}worker_processes 1;\npid {prefix}/nginx.pid;\n"
            f"error_log {prefix}/logs/error.log;\nevents {{ worker_connections 256; }}\n"
            f"http {{\n    include /etc/nginx/mime.types;\n"
            f"    access_log {prefix}/logs/access.log;\n{temp}\n"
            f"    include {prefix}/site.conf;\n}}\n"
        )
        self.proc: subprocess.Popen | None = None

    def _cmd(self, *extra: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.prefix / "nginx.conf"), *extra]

    def start(self) -> None:
        check = subprocess.run(self._cmd("-t"), capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        self.proc = subprocess.Popen(
            self._cmd("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"nginx did not start: {self.error_log()}")

    def error_log(self) -> str:
        path = self.prefix / "logs/error.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def stack(tmp_path, store, manager):
    daphne = DaphneServer(
        db_name=connection.settings_dict["NAME"],
        log_path=tmp_path / "daphne.log",
        env={"MINIGO_BODY_MAX_BYTES": str(64 * MIB)},
    )
    daphne.start()
    site = _render()(
        server_name="127.0.0.1",
        upstream=f"127.0.0.1:{daphne.port}",
        static_root=str(ROOT / "static"),
        body_max="64m",
        tls=False,
        listen="127.0.0.1:@PORT@",
    )
    nginx = Nginx(tmp_path / "nginx", site)
    try:
        nginx.start()
        yield daphne, nginx
    finally:
        nginx.stop()
        daphne.stop()


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 20, 30)).save(buf, "JPEG")
    return buf.getvalue()


async def _device_session(port: int, token: str) -> list[dict]:
    replies = []
    url = f"ws://127.0.0.1:{port}/ws/device/"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        config = json.loads(await asyncio.wait_for(ws.recv(), 20))
        assert config["type"] == "config" and config["frame_max_bytes"] > 0
        await ws.send(protocol.dumps(protocol.hello(device="shelf-1", kind="shelf", software="t")))
        replies.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))  # config again
        for i in range(3):
            event = protocol.shelf_event(
                event_id=f"e-nginx-{i}", slot="A1", sensor="load_cell",
                before=4200 - 350 * i, after=3850 - 350 * i, ts=time.time(),
            )  # fmt: skip
            await ws.send(protocol.dumps(event))
            replies.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
        await ws.send(protocol.encode_frame(event_id="f-nginx", ts=time.time(), jpeg=_jpeg()))
        replies.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
    return replies


async def test_devices_talk_to_the_server_through_nginx(stack, store):
    _daphne, nginx = stack
    replies = await _device_session(nginx.port, store.tokens["shelf-1"])
    acks = [(r["event_id"], r["status"]) for r in replies if r["type"] == "ack"]
    assert acks == [(f"e-nginx-{i}", "stored") for i in range(3)] + [("f-nginx", "stored")]
    assert await ShelfEvent.objects.filter(event_id__startswith="e-nginx").acount() == 3
    assert await Frame.objects.filter(event_id="f-nginx").aexists()


def test_static_files_come_from_nginx_and_pages_from_daphne(stack):
    _daphne, nginx = stack
    static = urllib.request.urlopen(f"http://127.0.0.1:{nginx.port}/static/js/live.js")
    assert static.read() == (ROOT / "static/js/live.js").read_bytes()
    assert "max-age=604800" in static.headers.get("Cache-Control", "")
    page = urllib.request.urlopen(f"http://127.0.0.1:{nginx.port}/accounts/login/")
    assert page.status == 200 and b"csrfmiddlewaretoken" in page.read()


def test_a_300_mib_post_is_refused_by_nginx_and_daphne_stays_flat(stack):
    daphne, nginx = stack
    before = rss_bytes(daphne.proc.pid)
    for path in ("/api/me/face/", "/accounts/login/"):
        status, sent = stream_post(nginx.port, path, 300 * MIB)
        assert status == 413, (path, status)
        assert sent < 300 * MIB
    status, _ = stream_post(nginx.port, "/api/me/face/", 300 * MIB, chunked=True)
    assert status == 413
    assert rss_bytes(daphne.proc.pid) - before < 20 * MIB
    # nginx answered them (it logs a request once its connection has wound down).
    deadline = time.monotonic() + 15
    while (nginx.prefix / "logs/access.log").read_text().count('" 413 ') < 3:
        assert time.monotonic() < deadline, (nginx.prefix / "logs/access.log").read_text()
        time.sleep(0.2)
    assert "refused a request body" not in daphne.log_path.read_text()  # it never got them


def test_a_browser_signs_in_and_its_live_socket_connects_through_nginx(stack):
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("needs Debian's Chromium at /usr/bin/chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    _daphne, nginx = stack
    base = f"http://127.0.0.1:{nginx.port}"
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{base}/accounts/login/")
            page.fill("input[name=username]", "manager")
            page.fill("input[name=password]", "pw-manager")
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_url(f"{base}/manager/**", timeout=30000)
            page.wait_for_selector("#live-status[data-state=live]", timeout=30000)
        finally:
            browser.close()
    access = (nginx.prefix / "logs/access.log").read_text()
    assert 'GET /ws/live/ HTTP/1.1" 101' in access


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs openssl to make a test certificate")
def test_the_tls_site_is_a_valid_nginx_config(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=shop.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = _render()(server_name="shop.example", cert=str(cert), key=str(key))
    assert "listen 443 ssl;" in site and "return 301 https://$host$request_uri;" in site
    nginx = Nginx(tmp_path / "nginx", site)
    check = subprocess.run(nginx._cmd("-t"), capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_the_systemd_units_parse_and_restart_what_dies(tmp_path):
    units = sorted((ROOT / "deploy/systemd").glob("*.service"))
    assert {u.name for u in units} == {
        "minigo-daphne.service",
        "minigo-worker@.service",
        "minigo-beat.service",
    }
    for unit in units:
        assert "Restart=always" in unit.read_text(), unit.name
    # An instance name for the template; the binaries are not installed here, which is the
    # one complaint allowed.
    copies = []
    for unit in units:
        copy = tmp_path / unit.name.replace("@.", "@1.")
        copy.write_text(unit.read_text())
        copies.append(str(copy))
    out = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *copies],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    problems = [
        line
        for line in (out.stdout + out.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []

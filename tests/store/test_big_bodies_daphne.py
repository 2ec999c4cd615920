"""A 300 MiB POST before login, against a real daphne: refused with 413 while it arrives, and
daphne's memory stays flat (Twisted, left alone, parsed such a multipart body in memory at
about 14 times its size). The body is streamed a MiB at a time, never held by the test."""

from __future__ import annotations

import pytest
from django.db import connection

from tests.edge_agent.daphne_server import DaphneServer, rss_bytes, stream_post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

MIB = 1024 * 1024
LIMIT = 16 * MIB


@pytest.fixture
def server(tmp_path):
    srv = DaphneServer(
        db_name=connection.settings_dict["NAME"],
        log_path=tmp_path / "daphne.log",
        env={"MINIGO_BODY_MAX_BYTES": str(LIMIT)},
    )
    srv.start()
    yield srv
    srv.stop()


@pytest.mark.parametrize("path", ["/accounts/login/", "/api/me/face/"])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mib_post_is_refused_and_daphne_memory_stays_flat(server, path, chunked):
    stream_post(server.port, "/healthz", 0, content_type="text/plain")  # warm up
    before = rss_bytes(server.proc.pid)
    status, sent = stream_post(server.port, path, 300 * MIB, chunked=chunked)
    after = rss_bytes(server.proc.pid)
    assert status in (413, None), status  # None: closed before the client read the answer
    assert sent < 300 * MIB  # refused while arriving, not after all of it
    assert after - before < 40 * MIB, (before, after)
    # The server is still there and answers.
    ok, _ = stream_post(server.port, "/accounts/login/", 10, content_type="text/plain")
    assert ok in (403, 200)  # CSRF refuses a form without a token; no 413, no crash

"""A real daphne server in a subprocess, on a free loopback port, using the test database."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DaphneServer:
    def __init__(
        self,
        *,
        db_name: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        app: str = "minigo.asgi:application",
    ):
        self.port = free_port()
        self.app = app
        self.db_name, self.log_path = db_name, log_path
        self.extra_env = env or {}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/device/"

    def start(self, timeout: float = 60.0) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.edge_agent.daphne_settings",
            "MINIGO_TEST_SERVER_DB": self.db_name,
            # No worker runs beside this server: tasks run in it, as in the embedded setup.
            "CELERY_TASK_ALWAYS_EAGER": "true",
            "LOG_LEVEL": "WARNING",
            **self.extra_env,
        }
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                self.app,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne did not start: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """Stop it the hard way (a crash or a power cut), mid-stream."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                # daphne waits up to 10 s for open application instances; tests need not.
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


_OPENING = (
    b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
)
_CLOSING = b"\r\n--xyz--\r\n"


def multipart_piece(size: int, offset: int, length: int) -> bytes:
    """Bytes [offset, offset + length) of a well-formed multipart body (boundary `xyz`, one
    file field) exactly `size` bytes long, made without building the whole body."""
    end = min(size, offset + length)
    body_end = size - len(_CLOSING)
    out = bytearray()
    if offset < len(_OPENING):
        out += _OPENING[offset : min(end, len(_OPENING))]
    lo, hi = max(offset, len(_OPENING)), min(end, body_end)
    if lo < hi:
        out += b"a" * (hi - lo)
    if end > body_end:
        out += _CLOSING[max(offset, body_end) - body_end : end - body_end]
    return bytes(out)


def stream_post(
    port: int,
    path: str,
    size: int,
    *,
    chunked: bool = False,
    content_type: str = "multipart/form-data; boundary=xyz",
    host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> tuple[int | None, int]:
    """POST a body of `size` bytes without holding it in memory (1 MiB at a time), stopping
    as soon as the server answers or closes. Returns (status or None, bytes sent)."""
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Content-Type: {content_type}",
        "Connection: close",
    ]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    sent, reply = 0, b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(5)
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        deadline = time.monotonic() + timeout
        while sent < size and time.monotonic() < deadline:
            if select.select([sock], [], [], 0)[0]:
                try:
                    reply = sock.recv(65536)
                except OSError:
                    pass
                break  # the server answered (or closed) before the body was done
            piece = multipart_piece(size, sent, 1024 * 1024)
            data = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            try:
                sock.sendall(data)
            except OSError:
                break
            sent += len(piece)
        try:
            if chunked and sent >= size:
                sock.sendall(b"0\r\n\r\n")
            while b"\r\n" not in reply:
                more = sock.recv(65536)
                if not more:
                    break
                reply += more
        except OSError:
            pass
    status = int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/") else None
    return status, sent

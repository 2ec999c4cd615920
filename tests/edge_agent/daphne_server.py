"""A real daphne server in a subprocess, on a free loopback port, using the test database."""

from __future__ import annotations

import os
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
    def __init__(self, *, db_name: str, log_path: Path, env: dict[str, str] | None = None):
        self.port = free_port()
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
                "minigo.asgi:application",
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

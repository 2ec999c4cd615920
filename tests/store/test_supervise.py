"""minigo.supervise: the restart loop `make run` puts the Celery worker and beat under."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from minigo.supervise import supervise

ROOT = Path(__file__).resolve().parents[2]


def test_a_process_that_dies_is_started_again(tmp_path, capsys):
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-c", f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)"]
    code = supervise(cmd, name="t", backoff_min_s=0.05, backoff_max_s=0.1, max_restarts=2)
    assert code == 3
    assert runs.read_text() == "xxx"  # the first run and two restarts
    assert capsys.readouterr().err.count("restarting in") == 2


def test_sigterm_stops_the_child_and_the_supervisor(tmp_path):
    pidfile = tmp_path / "pid"
    child = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "minigo.supervise",
            "--name",
            "t",
            "--",
            sys.executable,
            "-c",
            child,
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child_pid = int(pidfile.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert "stopped" in proc.stderr.read()
    assert (
        not Path(f"/proc/{child_pid}").exists()
        or "zombie" in Path(f"/proc/{child_pid}/status").read_text()
    )

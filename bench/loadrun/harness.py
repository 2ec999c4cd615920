"""Starting, watching and stopping the processes of a bench's store, on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


def admin_url(url: str, name: str) -> str:
    """The same PostgreSQL server as `url`, database `name`."""
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def recreate_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _tree(pid: int) -> list[int]:
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    return pids


def _tree_sum(pid: int, read) -> float:
    """`read(p)` summed over a process and its children (a prefork worker is parent + pool
    child); a process that ended meanwhile counts nothing."""
    total = 0.0
    for p in _tree(pid):
        try:
            total += read(p)
        except OSError:
            pass
    return total


def _rss_kb_of(p: int) -> int:
    lines = Path(f"/proc/{p}/status").read_text().splitlines()
    return sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))


def _cpu_s_of(p: int) -> float:
    fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    """RSS of a process and its children."""
    return int(_tree_sum(pid, _rss_kb_of))


def cpu_tree_s(pid: int) -> float:
    """User + system CPU seconds of a process and its children."""
    return _tree_sum(pid, _cpu_s_of)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0–100), nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


class Procs:
    """Named child processes, each in a session of its own so stopping one stops its
    children (a worker's pool) too."""

    def __init__(self) -> None:
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, cmd: list[str], env: dict, log: Path | Any) -> subprocess.Popen:
        out = log.open("w") if isinstance(log, Path) else log
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_store(
    env: dict[str, str], log: Any, procs: Procs, *, concurrency: int, worker_args: tuple = ()
) -> int:
    """daphne on a free port and a Celery worker, with the queue purged first: tasks left by
    an earlier run name rows of a dropped database. Returns the port once daphne listens and
    the worker is ready."""
    port = free_port()
    subprocess.run(
        [str(BIN / "celery"), "-A", "minigo", "purge", "-f"],
        cwd=ROOT, env=env, capture_output=True, check=False,
    )  # fmt: skip
    procs.start(
        "daphne",
        [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "minigo.asgi:application"],
        env, log,
    )  # fmt: skip
    procs.start(
        "worker",
        [str(BIN / "celery"), "-A", "minigo", "worker", *worker_args, "--loglevel", "warning",
         "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"],
        env, log,
    )  # fmt: skip
    wait_for(lambda: port_open(port), 90, "daphne")
    time.sleep(5)  # the worker starts
    return port

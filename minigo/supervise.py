"""Keep one process running: start it again whenever it exits, until told to stop.

    python -m minigo.supervise --name worker -- celery -A minigo worker ...

`make run` runs the Celery worker and beat under it, so a worker that dies (killed, out of
memory, an unrecoverable broker error) comes back by itself, as systemd's Restart=always
does in production (deploy/systemd/). Restarts back off from 1 s to 30 s while the process
keeps dying quickly, and reset once it has run for a minute. SIGTERM or SIGINT stops the
child (SIGTERM to its process group: a Celery worker takes its pool with it) and then the
supervisor.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

STEADY_S = 60.0


def _log(name: str, text: str) -> None:
    print(f"[supervise {name}] {text}", file=sys.stderr, flush=True)


def supervise(
    cmd: list[str],
    *,
    name: str,
    backoff_min_s: float = 1.0,
    backoff_max_s: float = 30.0,
    max_restarts: int | None = None,
) -> int:
    stopping = {"signal": 0}
    child: dict[str, subprocess.Popen | None] = {"proc": None}

    def stop(signum: int, _frame: object) -> None:
        stopping["signal"] = signum
        proc = child["proc"]
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _loop(cmd, name, child, stopping, backoff_min_s, backoff_max_s, max_restarts)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _loop(
    cmd: list[str],
    name: str,
    child: dict[str, subprocess.Popen | None],
    stopping: dict[str, int],
    backoff_min_s: float,
    backoff_max_s: float,
    max_restarts: int | None,
) -> int:
    delay, restarts = backoff_min_s, 0
    while True:
        started = time.monotonic()
        # Its own process group, so a stop reaches the worker's pool children too, and a
        # Ctrl-C in the terminal reaches the child only through this supervisor.
        proc = subprocess.Popen(cmd, start_new_session=True)
        child["proc"] = proc
        _log(name, f"started pid {proc.pid}")
        code = proc.wait()
        if stopping["signal"]:
            _log(name, "stopped")
            return 0
        ran = time.monotonic() - started
        if ran >= STEADY_S:
            delay = backoff_min_s
        restarts += 1
        if max_restarts is not None and restarts > max_restarts:
            _log(name, f"exited with {code}; not restarting after {max_restarts} restarts")
            return code or 1
        _log(name, f"exited with {code} after {ran:.0f} s; restarting in {delay:.0f} s")
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not stopping["signal"]:
            time.sleep(0.2)
        if stopping["signal"]:
            return 0
        delay = min(delay * 2, backoff_max_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigo.supervise", description=__doc__)
    parser.add_argument("--name", default="process", help="name used in the log lines")
    parser.add_argument("--backoff-max", type=float, default=30.0)
    parser.add_argument("cmd", nargs=argparse.REMAINDER, help="-- the command to keep running")
    args = parser.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        parser.error("give the command to run after --")
    return supervise(cmd, name=args.name, backoff_max_s=args.backoff_max)


if __name__ == "__main__":
    sys.exit(main())

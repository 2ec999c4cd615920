"""What one large POST before login costs daphne's memory, with and without MiniGo's body
guard (minigo/request_limits.py), side by side in one run.

Starts `daphne minigo.asgi:application` (guard on, MINIGO_BODY_MAX_BYTES as given) and
`daphne bench.unguarded_asgi:application` (Twisted left to buffer and parse the multipart
body itself) on free loopback ports with an SQLite database of their own, streams a
multipart POST of each size to /accounts/login/ (1 MiB at a time; the bench never holds the
body), and prints daphne's resident memory before and after (Linux /proc).

    .venv/bin/python bench/big_post.py --sizes 16 40 300 --unguarded-max 40
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.edge_agent.daphne_server import DaphneServer, rss_bytes, stream_post  # noqa: E402

MIB = 1024 * 1024


def measure(server: DaphneServer, size_mib: int) -> tuple[int | None, float, float]:
    stream_post(server.port, "/healthz", 0, content_type="text/plain")
    before = rss_bytes(server.proc.pid)
    status, sent = stream_post(server.port, "/accounts/login/", size_mib * MIB, timeout=300)
    after = rss_bytes(server.proc.pid)
    return status, sent / MIB, (after - before) / MIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 40, 300], help="MiB")
    parser.add_argument("--limit", type=int, default=64, help="MINIGO_BODY_MAX_BYTES in MiB")
    parser.add_argument(
        "--unguarded-max", type=int, default=40, help="largest size sent without the guard (MiB)"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="big-post-"))
    db = tmp / "db.sqlite3"
    env = {"MINIGO_BODY_MAX_BYTES": str(args.limit * MIB), "MINIGO_VAR_DIR": str(tmp)}
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "minigo.settings")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"guard limit: {args.limit} MiB\n")
    print("| server | POST MiB | status | MiB sent | daphne RSS growth MiB |")
    print("|---|---|---|---|---|")
    for label, app in (
        ("guarded (minigo.asgi)", "minigo.asgi:application"),
        ("unguarded (bench.unguarded_asgi)", "bench.unguarded_asgi:application"),
    ):
        for size in args.sizes:
            if "unguarded" in label and size > args.unguarded_max:
                continue
            server = DaphneServer(db_name=str(db), log_path=tmp / "daphne.log", env=env, app=app)
            server.start()
            try:
                status, sent, growth = measure(server, size)
            finally:
                server.stop()
            print(f"| {label} | {size} | {status} | {sent:.0f} | {growth:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a load run is judged by, read from the store's database afterwards: shelf events
sent, stored and processed, duplicates, event → cart and exit → receipt latencies, the
receipts scored against the scenario's expectations, PostgreSQL's growth."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from bench.loadrun.harness import ROOT
from store.replay.metrics import Metrics, score  # plain Python, no Django

# Exit frame → final receipt: the last revision's time (issued_at without one) minus the
# capture time of the exit frame that closed the visit.
RECEIPT_LATENCY_SQL = """
SELECT v.id, EXTRACT(EPOCH FROM GREATEST(r.issued_at,
    (SELECT max(rv.created_at) FROM store_receiptrevision rv WHERE rv.receipt_id = r.id))
  - COALESCE(
    (SELECT min(f.captured_at) FROM store_frame f
      WHERE f.device_id = v.exit_device_id AND f.result->'receipts' @> to_jsonb(v.id)),
    v.exited_at))
FROM store_receipt r JOIN store_visit v ON v.id = r.visit_id
"""
# A receipt's items are its visit's ledger (amendments are further entries), per shopper in
# the order of their visits.
RECEIPT_ITEMS_SQL = """
SELECT u.username, v.id, (
    SELECT jsonb_object_agg(sku, q) FROM (
        SELECT p.sku, SUM(e.quantity) AS q FROM store_cartentry e
        JOIN store_product p ON p.id = e.product_id
        WHERE e.visit_id = v.id GROUP BY p.sku HAVING SUM(e.quantity) <> 0) items)
FROM store_receipt r JOIN store_visit v ON v.id = r.visit_id
JOIN store_shopper s ON s.id = v.shopper_id JOIN auth_user u ON u.id = s.user_id
ORDER BY u.username, v.entered_at
"""


def unspaced(name: str) -> str:
    """A name without the namespace `replay --setup` gives the scenario's shoppers and
    products (r123456-kit → kit): the expectations use the scenario's own names."""
    return re.sub(r"^r\d{6}-", "", name)


def db_sizes(dsn: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(dsn) as c:
        row = c.execute(
            "SELECT pg_database_size(current_database()),"
            " pg_total_relation_size('store_frame'),"
            " COALESCE(pg_total_relation_size(NULLIF(reltoastrelid, 0)), 0),"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')"
            " FROM pg_class WHERE relname = 'store_frame'"
        ).fetchone()
    return {"db": row[0], "frame": row[1], "toast": row[2], "wal": int(row[3])}


def replay_locally(scenario: Path, env: dict) -> str:
    """The same scenario through `manage.py replay` (embedded, its own temporary store)."""
    local = {k: v for k, v in env.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    local.pop("MINIGO_TRACE", None)
    out = subprocess.run(
        [sys.executable, "manage.py", "replay", str(scenario), "--no-progress"],
        cwd=ROOT, env=local, capture_output=True, text=True,
    )  # fmt: skip
    lines = [x for x in out.stdout.splitlines() if x.startswith("cAcc=")]
    return lines[-1] if lines else f"(local replay failed: {out.stderr.strip()[-200:]})"


def pending(dsn: str) -> int:
    """Shelf events and frames not processed yet."""
    import psycopg

    with psycopg.connect(dsn) as c:
        return sum(
            c.execute(f"SELECT count(*) FROM {t} WHERE status='pending'").fetchone()[0]
            for t in ("store_shelfevent", "store_frame")
        )


def _one(c, sql: str) -> int:
    return c.execute(sql).fetchone()[0]


def collect(dsn: str, scenario: Path) -> dict:
    """Every figure of the run from its database."""
    import psycopg

    f: dict = {}
    with psycopg.connect(dsn) as c:
        f["stored"] = _one(c, "SELECT count(*) FROM store_shelfevent")
        f["by_status"] = dict(
            c.execute("SELECT status, count(*) FROM store_shelfevent GROUP BY status")
        )
        f["frames"] = _one(c, "SELECT count(*) FROM store_frame")
        f["entries"] = _one(
            c, "SELECT count(*) FROM store_cartentry WHERE shelf_event_id IS NOT NULL"
        )
        f["dup_events"] = _one(
            c,
            "SELECT count(*) FROM (SELECT shelf_event_id FROM store_cartentry"
            " WHERE shelf_event_id IS NOT NULL GROUP BY shelf_event_id HAVING count(*) > 1) d",
        )
        f["dup_ids"] = _one(
            c,
            "SELECT count(*) FROM (SELECT device_id, event_id FROM store_shelfevent"
            " GROUP BY device_id, event_id HAVING count(*) > 1) d",
        )
        f["cart_lat"] = {
            int(pk): float(x)
            for pk, x in c.execute(
                "SELECT s.id, EXTRACT(EPOCH FROM e.created_at - s.occurred_at)"
                " FROM store_cartentry e JOIN store_shelfevent s ON s.id = e.shelf_event_id"
            )
        }
        f["hop"] = [
            float(x)
            for (x,) in c.execute(
                "SELECT EXTRACT(EPOCH FROM received_at - occurred_at) FROM store_shelfevent"
            )
        ]
        f["receipts"] = _one(c, "SELECT count(*) FROM store_receipt")
        f["receipt_lat"] = {int(pk): float(x) for pk, x in c.execute(RECEIPT_LATENCY_SQL)}
        got: dict[str, list[dict[str, int]]] = {}
        for who, _visit, items in c.execute(RECEIPT_ITEMS_SQL):
            got.setdefault(unspaced(who), []).append(
                {unspaced(k): int(v) for k, v in (items or {}).items()}
            )
        f["shelf_frames"] = dict(
            c.execute(
                "SELECT f.result ? 'faces_deferred', count(*) FROM store_frame f"
                " JOIN store_device d ON d.id = f.device_id WHERE d.kind = 'shelf' GROUP BY 1"
            )
        )
        f["review"] = f["by_status"].get("review", 0)
        f["negative"] = _one(c, "SELECT count(*) FROM store_slot WHERE stock < 0")
    f["processed"] = f["stored"] - f["by_status"].get("pending", 0)
    lines = scenario.read_text().splitlines()
    expects = [json.loads(x) for x in lines if x.startswith('{"type": "expect"')]
    f["metrics"] = score(expects=expects, receipts=got, review=f["review"], events=f["stored"])
    return f


def load_line(*, sent: int, f: dict) -> str:
    """The run's one-line summary, the bench's last line."""
    from bench.loadrun.harness import pct

    m: Metrics = f["metrics"]
    cart = pct(list(f["cart_lat"].values()), 95) * 1000
    receipt = pct(list(f["receipt_lat"].values()), 95) * 1000
    return (
        f"load: sent={sent} stored={f['stored']} processed={f['processed']} "
        f"duplicates={f['dup_events'] + f['dup_ids']} cart_p95_ms={cart:.0f} "
        f"receipt_p95_ms={receipt:.0f} cAcc={m.exact}/{m.receipts}"
    )

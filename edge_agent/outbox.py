"""The agent's outbox: every shelf event and frame waits here, on disk, until the server acks it.

One SQLite file (WAL, synchronous=FULL, so a power cut keeps what was written). Items leave
in the order they were made (`seq`), and only when acked.

Disk policy (`max_bytes` over the stored payloads), applied whenever something is added:
1. idle frames (frames not around a shelf event) go first, oldest first;
2. then frames around shelf events, oldest first;
3. shelf events are never dropped: with only events left the outbox grows past its budget
   and logs a warning (an event is a few hundred bytes; a day offline is far below 1 MB).

An item the server refuses with a permanent error code (see protocol.PERMANENT_ERRORS) is
parked: it stays in the file with its error, out of the send queue, and a warning is logged.
`python -m edge_agent outbox --requeue` puts parked items back in the queue.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

EVENT = "event"
FRAME = "frame"

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    payload BLOB NOT NULL,
    size INTEGER NOT NULL,
    created REAL NOT NULL,
    pinned INTEGER NOT NULL DEFAULT 0,
    parked_code TEXT,
    parked_message TEXT
);
CREATE INDEX IF NOT EXISTS outbox_queue ON outbox (parked_code, seq);
"""


def _disk_full(exc: sqlite3.OperationalError) -> bool:
    return "full" in str(exc).lower()  # SQLITE_FULL: "database or disk is full"


@dataclass(frozen=True)
class Item:
    seq: int
    event_id: str
    kind: str
    payload: bytes
    created: float


class Outbox:
    """Thread-safe: sensors and cameras add from their threads, the sender reads in asyncio."""

    def __init__(self, path: str | Path, *, max_bytes: int = 200 * 1024 * 1024):
        self.path = str(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._warned_over_budget = False

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- adding ----------------------------------------------------------------------------
    def add(self, *, event_id: str, kind: str, payload: bytes | str, pinned: bool = False) -> bool:
        """Queue an item; False if an item with this event id is already queued."""
        data = payload.encode() if isinstance(payload, str) else payload
        row = (event_id, kind, data, len(data), time.time(), int(pinned or kind == EVENT))
        with self._lock:
            try:
                added = self._insert(row)
            except sqlite3.OperationalError as exc:
                if not _disk_full(exc):
                    raise
                # The disk filled up before the budget did: make room the same way (frames
                # only, idle ones first) and try once more. A frame that still does not fit
                # is dropped; an event raises, so its sensor keeps it and says so loudly.
                freed = self._free_frames(need=len(data) * 2 + 65536)
                log.warning("disk full: dropped %d frame(s) to store %s %s", freed, kind, event_id)
                try:
                    added = self._insert(row)
                except sqlite3.OperationalError as again:
                    if kind == FRAME and _disk_full(again):
                        log.warning("disk full: frame %s not stored", event_id)
                        return False
                    raise
            if added:
                self._enforce_budget()
        return added

    def _insert(self, row: tuple) -> bool:
        cur = self._db.execute(
            "INSERT OR IGNORE INTO outbox (event_id, kind, payload, size, created, pinned)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            row,
        )
        return cur.rowcount == 1

    def _free_frames(self, *, need: int) -> int:
        """Delete frames, idle ones first then those around events, oldest first, until
        `need` bytes of payload are freed (SQLite reuses the freed pages)."""
        freed, dropped = 0, []
        for pinned in (0, 1):
            rows = self._db.execute(
                "SELECT seq, size FROM outbox WHERE kind = ? AND pinned = ? AND parked_code IS"
                " NULL ORDER BY seq",
                (FRAME, pinned),
            ).fetchall()
            for seq, size in rows:
                if freed >= need:
                    break
                dropped.append((seq,))
                freed += size
        if dropped:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", dropped)
        return len(dropped)

    def pin_frames_since(self, since: float) -> int:
        """Mark the frames queued since `since` as around a shelf event, so idle-frame
        trimming does not take them."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE outbox SET pinned = 1 WHERE kind = ? AND created >= ? AND pinned = 0",
                (FRAME, since),
            )
            return cur.rowcount

    def _enforce_budget(self) -> None:
        total = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM outbox").fetchone()[0]
        if total <= self.max_bytes:
            self._warned_over_budget = False
            return
        for pinned in (0, 1):
            rows = self._db.execute(
                "SELECT seq, size FROM outbox WHERE kind = ? AND pinned = ? ORDER BY seq",
                (FRAME, pinned),
            ).fetchall()
            dropped = []
            for seq, size in rows:
                if total <= self.max_bytes:
                    break
                dropped.append((seq,))
                total -= size
            if dropped:
                self._db.executemany("DELETE FROM outbox WHERE seq = ?", dropped)
                log.warning(
                    "outbox over %d bytes: dropped %d %s frame(s), oldest first",
                    self.max_bytes,
                    len(dropped),
                    "event" if pinned else "idle",
                )
            if total <= self.max_bytes:
                return
        if not self._warned_over_budget:
            log.warning("outbox holds %d bytes of shelf events; events are never dropped", total)
            self._warned_over_budget = True

    # --- sending ---------------------------------------------------------------------------
    def pending(self, *, after_seq: int = 0, limit: int = 100) -> list[Item]:
        """The next items to send, in order, skipping parked ones."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, event_id, kind, payload, created FROM outbox"
                " WHERE parked_code IS NULL AND seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [Item(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]

    def oldest_created(self) -> float | None:
        """When the oldest item still to be sent was queued (parked items never will be)."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(created) FROM outbox WHERE parked_code IS NULL"
            ).fetchone()
        return row[0] if row else None

    def ack(self, event_id: str) -> bool:
        with self._lock:
            cur = self._db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))
            return cur.rowcount == 1

    def park(self, event_id: str, *, code: str, message: str) -> bool:
        with self._lock:
            cur = self._db.execute(
                "UPDATE outbox SET parked_code = ?, parked_message = ? WHERE event_id = ?",
                (code, message[:500], event_id),
            )
        if cur.rowcount:
            log.warning("parked %s after permanent error %s: %s", event_id, code, message)
        return cur.rowcount == 1

    def requeue_parked(self) -> int:
        with self._lock:
            return self._db.execute(
                "UPDATE outbox SET parked_code = NULL, parked_message = NULL"
                " WHERE parked_code IS NOT NULL"
            ).rowcount

    # --- looking ---------------------------------------------------------------------------
    def parked(self) -> list[tuple[str, str, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT event_id, kind, parked_code, parked_message FROM outbox"
                " WHERE parked_code IS NOT NULL ORDER BY seq"
            ).fetchall()

    def stats(self) -> dict[str, int]:
        with self._lock:
            row = self._db.execute(
                "SELECT"
                " COALESCE(SUM(kind = 'event' AND parked_code IS NULL), 0),"
                " COALESCE(SUM(kind = 'frame' AND parked_code IS NULL), 0),"
                " COALESCE(SUM(parked_code IS NOT NULL), 0),"
                " COALESCE(SUM(size), 0)"
                " FROM outbox"
            ).fetchone()
        return {"events": row[0], "frames": row[1], "parked": row[2], "bytes": row[3]}

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE parked_code IS NULL"
            ).fetchone()[0]

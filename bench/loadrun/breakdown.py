"""Where the slow events and receipts of a load run spent their time, from the store's trace
lines (MINIGO_TRACE, minigo/trace.py) in the daphne and worker logs joined with the database.

A shelf event's time to its cart entry splits into: ingest (agent send → stored), queue
(stored → its first run starts), the first run, and, for an event that waited for camera
evidence, the wait until the run that decided it started, and that run. What started the
deciding run: a frame's wake (then split into the wait for that frame to be processed, i.e.
captured, sent and run, and the wake's own queueing), the final countdown at the window's end,
the periodic settle, or the on-demand face pass.

An exit → receipt splits into: the exit frame until the visit closed (its task), then the
wait for the last undecided shelf event of the visit's span, the wait for the last shelf
watermark past the exit, and the settle run that issued it after both."""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"trace (\w+) t=([\d.]+) ?(.*)$")


def read_traces(folder: Path) -> list[tuple[str, float, dict[str, str]]]:
    out = []
    for log in sorted(folder.glob("*.log")):
        for line in log.read_text(errors="replace").splitlines():
            m = LINE.search(line)
            if m:
                fields = dict(kv.split("=", 1) for kv in m.group(3).split() if "=" in kv)
                out.append((m.group(1), float(m.group(2)), fields))
    out.sort(key=lambda x: x[1])
    return out


def _med(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f}" if values else "-"


def _p(values: list[float], q: float) -> float:
    from bench.loadrun.harness import pct

    return pct(values, q)


def events(dsn: str, traces, cart_lat: dict[int, float], q: float = 95) -> list[str]:
    import psycopg

    runs: dict[int, list[tuple[float, float, int, str]]] = defaultdict(list)
    task_wake: dict[int, list[float]] = defaultdict(list)  # event → starts of wake tasks
    wakes: dict[int, list[tuple[float, float]]] = defaultdict(list)  # (queued at, frame time)
    ondemand: dict[int, list[float]] = defaultdict(list)
    for what, t, f in traces:
        if what == "event_run":
            runs[int(f["event"])].append((float(f["start"]), t, int(f["final"]), f["status"]))
        elif what == "event_task" and f.get("wake") == "1":
            task_wake[int(f["event"])].append(t)
        elif what == "wake" and f.get("queued") == "1":
            wakes[int(f["event"])].append((t, float(f["frame_at"])))
        elif what == "ondemand":
            ondemand[int(f["event"])].append(t)
    if not runs:
        return ["- (no trace lines: run with MINIGO_TRACE set)"]
    slow_cut = _p(list(cart_lat.values()), q)
    slow = [pk for pk, lat in cart_lat.items() if lat >= slow_cut]
    with psycopg.connect(dsn) as c:
        rows = {
            pk: (occ, rec)
            for pk, occ, rec in c.execute(
                "SELECT id, EXTRACT(EPOCH FROM occurred_at), EXTRACT(EPOCH FROM received_at)"
                " FROM store_shelfevent WHERE id = ANY(%s)",
                (slow,),
            )
        }
    parts: dict[str, list[float]] = defaultdict(list)
    how: dict[str, int] = defaultdict(int)
    for pk in slow:
        if pk not in rows or not runs.get(pk):
            continue
        occ, rec = float(rows[pk][0]), float(rows[pk][1])
        r = sorted(runs[pk])
        first, last = r[0], r[-1]
        parts["ingest"].append(rec - occ)
        parts["queue"].append(first[0] - rec)
        parts["first run"].append(first[1] - first[0])
        if len(r) == 1:
            how["decided in its first run"] += 1
            continue
        parts["runs"].append(len(r))
        parts["waiting (first run end → deciding run start)"].append(last[0] - first[1])
        parts["deciding run"].append(last[1] - last[0])
        before = [w for w in wakes.get(pk, []) if w[0] <= last[0]]
        od = [t for t in ondemand.get(pk, []) if t <= last[0]]
        if od and (not before or od[-1] > before[-1][0]):
            how["on-demand faces"] += 1
        elif last[2]:
            how["final (window closed / settle)"] += 1
        elif before and task_wake.get(pk):
            queued, frame_at = before[-1]
            how["a frame's wake"] += 1
            parts["wake: event time → waking frame's capture"].append(frame_at - occ)
            parts["wake: frame capture → wake queued (frame sent+run)"].append(queued - frame_at)
            parts["wake: queued → run start"].append(last[0] - queued)
        else:
            how["other"] += 1
    out = [
        f"- Slowest events (cart latency ≥ p{q:g} = {slow_cut * 1000:.0f} ms, n={len(slow)}),"
        " median ms per part: "
        + "; ".join(
            f"{k} {_med(v) if k != 'runs' else statistics.median(v)}" for k, v in parts.items() if v
        ),
        "  decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(how.items())),
    ]
    allruns = [len(v) for v in runs.values()]
    out.append(
        f"  runs per event (all {len(allruns)} events traced): mean "
        f"{statistics.fmean(allruns):.2f}, events with one run {sum(1 for n in allruns if n == 1)}"
    )
    return out


def receipts(dsn: str, traces, receipt_lat: dict[int, float], q: float = 95) -> list[str]:
    import psycopg

    marks: dict[int, list[tuple[float, float]]] = defaultdict(list)  # device → (t, watermark)
    settles = [t for what, t, _ in traces if what == "settle_end"]
    for what, t, f in traces:
        if what == "watermark" and f.get("at", "-") != "-":
            marks[int(f["device"])].append((t, float(f["at"])))
    if not marks:
        return ["- (no watermark trace lines)"]
    slow_cut = _p(list(receipt_lat.values()), q)
    slow = [pk for pk, lat in receipt_lat.items() if lat >= slow_cut]
    with psycopg.connect(dsn) as c:
        shelves = [pk for (pk,) in c.execute("SELECT id FROM store_device WHERE kind='shelf'")]
        visits = list(
            c.execute(
                "SELECT v.id, EXTRACT(EPOCH FROM v.entered_at), EXTRACT(EPOCH FROM v.exited_at),"
                " (SELECT EXTRACT(EPOCH FROM min(f.processed_at)) FROM store_frame f"
                "   WHERE f.device_id = v.exit_device_id"
                "   AND f.result->'receipts' @> to_jsonb(v.id)),"
                " (SELECT EXTRACT(EPOCH FROM max(e.processed_at)) FROM store_shelfevent e"
                "   WHERE e.occurred_at >= v.entered_at - interval '5 seconds'"
                "   AND e.occurred_at <= v.exited_at),"
                " EXTRACT(EPOCH FROM GREATEST(r.issued_at, (SELECT max(rv.created_at)"
                "   FROM store_receiptrevision rv WHERE rv.receipt_id = r.id)))"
                " FROM store_visit v JOIN store_receipt r ON r.visit_id = v.id"
                " WHERE v.id = ANY(%s)",
                (slow,),
            )
        )
    parts: dict[str, list[float]] = defaultdict(list)
    bound: dict[str, int] = defaultdict(int)
    for _pk, _entered, exited, closed, decided, issued in visits:
        exited, issued = float(exited), float(issued)
        closed = float(closed) if closed is not None else exited
        decided = float(decided) if decided is not None else 0.0
        wm = 0.0
        for dev in shelves:
            reached = [t for t, at in marks.get(dev, []) if at >= exited]
            wm = max(wm, min(reached) if reached else issued)
        parts["exit frame → visit closed"].append(closed - exited)
        parts["closed → last event decided"].append(max(0.0, decided - closed))
        parts["closed → last watermark"].append(max(0.0, wm - closed))
        ready = max(closed, decided, wm)
        parts["ready → receipt"].append(issued - ready)
        after = [t for t in settles if t >= ready]
        if after:
            parts["ready → next settle run end"].append(after[0] - ready)
        which = max(("visit closed", closed), ("events", decided), ("watermarks", wm),
                    key=lambda x: x[1])[0]  # fmt: skip
        bound[which] += 1
    return [
        f"- Slowest receipts (exit → receipt ≥ p{q:g} = {slow_cut * 1000:.0f} ms, "
        f"n={len(visits)}), median ms per part: "
        + "; ".join(f"{k} {_med(v)}" for k, v in parts.items() if v),
        "  waited last for: " + ", ".join(f"{k} {v}" for k, v in sorted(bound.items())),
        f"  settle runs {len(settles)}",
    ]

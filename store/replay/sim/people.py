"""How people move through the simulated store: shoppers walk in through the gate, stop at a
few slots, reach in, sometimes change their mind or put an item down in the wrong place, and
walk out; strangers stand in front of shelves without taking anything."""

from __future__ import annotations

from typing import Any

from store.replay.sim.sensors import weigh
from store.replay.sim.world import SlotState, Stop, World

GATE_FRAME_EVERY_S = 0.4
# Two people side by side at a shelf have their faces at least this far apart across its
# camera's view (about a head's width at the distance a shelf camera watches from).
MIN_FACE_GAP = 0.1


def visit(w: World, who: str, t: float) -> float:
    """One visit of `who` entering at `t`; returns when they walked out."""
    rng, p = w.rng, w.p
    t_in = t
    _gate(w, who, t, "gate-in")
    cart: dict[str, int] = {}
    held: list[SlotState] = []  # where each held item came from, one entry per item
    t += rng.uniform(2.0, 6.0)
    few = p.picks < 3 * p.shoppers
    last_action = t
    last_stop: Stop | None = None
    for _ in range(rng.randint(1, 2) if few else rng.randint(2, 4)):
        if w.picks >= p.picks:
            break
        dwell = rng.uniform(3.0, 5.0)
        slot = _choose_slot(w, t, t + dwell)
        if slot is None:
            t += 2.0
            continue
        stop = Stop(slot.shelf, t, t + dwell, who, face_x(w, slot, t, t + dwell))
        stop.hidden = p.on("missed") and rng.random() < 0.02
        w.stops.append(stop)
        # People do not stand in one another's place: nobody else at this slot meanwhile.
        slot.busy.append((t - 0.5, t + dwell + 0.5))
        at = t + rng.uniform(0.8, 1.6)
        k = 2 if rng.random() < p.multi and slot.stock >= 2 else 1
        _take(w, slot, at, k, who, stop)
        cart[slot.sku] = cart.get(slot.sku, 0) + k
        held += [slot] * k
        w.picks += 1
        last_action = at
        last_stop = stop
        at2 = rng.uniform(at + 0.8, max(at + 0.9, t + dwell - 0.4))  # while still there
        roll = rng.random()
        if roll < p.putback:
            # Changed their mind: the item goes back where it came from.
            _take(w, slot, at2, -1, who, stop)
            cart[slot.sku] -= 1
            held.remove(slot)
            last_action = at2
        elif roll < p.putback + p.wrong_slot and slot.sensor == "load_cell":
            others = [h for h in held if h is not slot]
            if others:
                item = rng.choice(others)
                # Put down here, on the wrong slot: it now lies on this slot's scale.
                weigh(w, slot, at2, item.unit, who)
                slot.extra_g += item.unit
                cart[item.sku] -= 1
                held.remove(item)
                stop.picks.append(at2)
                last_action = at2
        noisy = p.on("noise")
        if slot.sensor == "load_cell" and rng.random() < (p.jitter * 2 if noisy else p.jitter):
            weigh(w, slot, t + dwell - 0.2, rng.uniform(-0.3, 0.3) * slot.tol)
        if slot.sensor == "load_cell" and rng.random() < (p.bump * 1.5 if noisy else p.bump):
            weigh(
                w, slot, t + dwell - 0.1, rng.choice((-1, 1)) * rng.uniform(0.35, 0.6) * slot.unit
            )
        t += dwell + rng.uniform(2.0, 6.0)
    if p.on("quick_exit") and rng.random() < 0.3:
        # Straight out after the last pick: the gate is a few steps away.
        t = max(last_action + rng.uniform(1.2, 2.2), t_in + 3.0)
        if last_stop is not None:
            # They left the shelf on the way: nobody is at a shelf and at the gate at once.
            last_stop.end = min(last_stop.end, max(last_action + 0.2, t - 1.0))
    _gate(w, who, t, "gate-out")
    w.inside.append((who, t_in, t))
    w.expects.append(
        {"type": "expect", "shopper": who, "items": {k: v for k, v in sorted(cart.items()) if v}}
    )
    return t


def _take(w: World, slot: SlotState, at: float, k: int, who: str, stop: Stop) -> None:
    """`who` takes k items from `slot` at `at` (k < 0: puts them back)."""
    if slot.sensor == "load_cell":
        weigh(w, slot, at, -k * slot.unit, who)
    else:
        slot.moves.append((at, k))
    slot.stock -= k
    stop.picks.append(at)


def face_x(w: World, slot: SlotState, start: float, end: float) -> float:
    """Where across the shelf camera's view the face of someone at `slot` from `start` to
    `end` is: never where another person at that shelf meanwhile has theirs (two heads do
    not fit in one place; someone leaning in at a band's edge does so where there is room)."""
    taken = [
        st.x for st in w.stops if st.shelf == slot.shelf and st.start <= end and start <= st.end
    ]

    def room(x: float) -> float:
        return min((abs(x - o) for o in taken), default=1.0)

    for _ in range(20):
        x = _place(w, slot)
        if room(x) >= MIN_FACE_GAP:
            return x
    # Crowded: they squeeze in where there is most room in front of their slot.
    lo, hi = slot.reach
    return max((lo + (hi - lo) * i / 20 for i in range(21)), key=room)


def _place(w: World, slot: SlotState) -> float:
    rng = w.rng
    lo, hi = slot.reach
    width = hi - lo
    if w.p.on("edge"):
        if rng.random() < 0.15:
            # At the band's edge (leaning in from the side), within a face's jitter of it.
            side = lo if rng.random() < 0.5 else hi
            inward = 1 if side == lo else -1
            return min(1.0, max(0.0, side + inward * rng.uniform(-0.005, 0.02)))
        return rng.uniform(lo, hi)
    return lo + width * rng.uniform(0.3, 0.7)


def _choose_slot(w: World, start: float, end: float) -> SlotState | None:
    free = [s for s in w.slots if s.free(start, end) and s.stock >= 3]
    if not free:
        return None
    if w.p.on("crowd") and w.rng.random() < 0.5:
        # Join someone at their shelf, preferably at the slot next to theirs.
        busy = [st for st in w.stops if st.start <= start <= st.end and not st.stranger]
        if busy:
            other = w.rng.choice(busy)
            there = [s for s in free if s.shelf == other.shelf]
            near = [s for s in there if _neighbours(s, other)]
            if near or there:
                return w.rng.choice(near or there)
    return w.rng.choice(free)


def _neighbours(slot: SlotState, stop: Stop) -> bool:
    lo, hi = slot.reach
    return min(abs(stop.x - lo), abs(stop.x - hi)) < 0.12


def _gate(w: World, who: str, t: float, device: str) -> None:
    """A shopper walking through a gate: its camera catches them in a few frames (a gate miss
    loses some of them). Shoppers without face consent show their QR code instead."""
    rng, p = w.rng, w.p
    if who in w.no_consent:
        w.lines.append({"t": t, "type": "qr", "device": device, "shopper": who, "who": who})
        return
    frames = 4 if p.on("gate_miss") else 1
    for i in range(frames):
        if p.on("gate_miss") and rng.random() < 0.3:
            continue
        line: dict[str, Any] = {
            "t": t + i * GATE_FRAME_EVERY_S,
            "type": "frame",
            "device": device,
            "sees": {"shoppers": [who]},
            "who": who,
        }
        w.lines.append(line)


def strangers(w: World, until: float) -> None:
    """People nobody enrolled (a companion, a passer-by, staff) standing at a shelf a while."""
    rng = w.rng
    t = rng.uniform(5.0, 20.0)
    n = 0
    while t < until:
        dwell = rng.uniform(3.0, 8.0)
        # Nobody stands in someone else's place, strangers neither.
        free = [s for s in w.slots if s.free(t, t + dwell)]
        if free:
            slot = rng.choice(free)
            slot.busy.append((t - 0.5, t + dwell + 0.5))
            n += 1
            w.stops.append(
                Stop(
                    slot.shelf,
                    t,
                    t + dwell,
                    f"stranger-{n}",
                    face_x(w, slot, t, t + dwell),
                    stranger=True,
                )
            )
        t += rng.uniform(15.0, 40.0)

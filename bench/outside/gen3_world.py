"""The third outside generator's store and people (bench/outside/gen3.py): the products, the
shelves with their reach bands, and how shoppers walk, stop, take and leave. Stdlib only."""

# sku, name, unit weight (g), price
CATALOG = [
    ("COLA", "Cola 330ml can", 350, "1.50"),
    ("WATER", "Still water 500ml", 520, "1.00"),
    ("SPARK", "Sparkling water 500ml", 525, "1.10"),
    ("JUICE", "Orange juice 1l", 1060, "2.80"),
    ("MILK", "Milk 500ml", 530, "1.20"),
    ("ICETEA", "Iced tea 500ml", 540, "1.60"),
    ("ENERGY", "Energy drink 250ml", 275, "1.90"),
    ("COFFEE", "Cold brew can", 265, "2.40"),
    ("CRISPS", "Crisps 40g", 46, "1.20"),
    ("CHOC", "Chocolate bar", 52, "1.10"),
    ("GUM", "Chewing gum", 28, "0.90"),
    ("MINTS", "Mints tin", 21, "1.30"),
    ("YOGURT", "Yogurt cup", 135, "0.95"),
    ("SANDW", "Ham sandwich", 210, "3.50"),
    ("WRAP", "Chicken wrap", 235, "3.90"),
    ("SALAD", "Salad bowl", 320, "4.50"),
    ("SOUP", "Soup pot", 420, "3.20"),
    ("NUTS", "Mixed nuts 100g", 112, "2.10"),
    ("PBAR", "Protein bar", 66, "1.80"),
    ("GRANOLA", "Granola bar", 48, "0.80"),
    ("MUFFIN", "Blueberry muffin", 96, "1.70"),
    ("CROISS", "Croissant", 72, "1.40"),
    ("CRACK", "Crackers", 160, "1.60"),
    ("COOKIE", "Cookies pack", 210, "2.20"),
    ("HUMMUS", "Hummus pot", 205, "2.30"),
    ("CHEESE", "Cheese snack", 120, "1.90"),
    ("APPLE", "Apple juice 250ml", 270, "1.30"),
    ("PRETZ", "Pretzels", 130, "1.40"),
]

N_SHELVES = 4
PERSONAL_SPACE = 0.14  # strangers' faces are never closer at one shelf (as far as we can)
SLOT_GAP_S = 0.5  # two changes on one slot are at least this far apart


def tolerance(unit):
    return max(4, round(unit * 0.04))


# ----------------------------------------------------------------------------- store


def make_bands(rng, n):
    """n reach bands in view order (left to right), uneven widths, some small gaps."""
    widths = [rng.uniform(0.075, 0.09), rng.uniform(0.23, 0.26)]
    widths += [rng.uniform(0.08, 0.25) for _ in range(n - 2)]
    forced = [True, True] + [False] * (n - 2)
    pairs = list(zip(widths, forced))
    rng.shuffle(pairs)
    widths = [w for w, _ in pairs]
    forced = [f for _, f in pairs]
    gaps = [rng.uniform(0.01, 0.03) if rng.random() < 0.5 else 0.0 for _ in range(n - 1)]
    budget = 0.96 - sum(gaps)
    if sum(widths) > budget:
        fixed = sum(w for w, f in zip(widths, forced) if f)
        free = sum(w for w, f in zip(widths, forced) if not f)
        scale = max(0.0, budget - fixed) / free if free else 1.0
        widths = [w if f else max(0.07, w * scale) for w, f in zip(widths, forced)]
        if sum(widths) > budget:  # still too wide: shrink everything
            k = budget / sum(widths)
            widths = [w * k for w in widths]
    total = sum(widths) + sum(gaps)
    x = rng.uniform(0.02, max(0.02, 1.0 - total - 0.02))
    bands = []
    for i, w in enumerate(widths):
        bands.append((round(x, 3), round(x + w, 3)))
        x += w + (gaps[i] if i < n - 1 else 0.0)
    return bands


def make_store(rng):
    products = rng.sample(CATALOG, k=len(CATALOG))
    pi = 0
    shelves = []
    for s in range(N_SHELVES):
        n = rng.randint(5, 7)
        bands = make_bands(rng, n)
        order = list(range(n))
        rng.shuffle(order)  # slot i (code order) -> view position order[i]
        slots = []
        for i in range(n):
            sku, name, unit, price = products[pi]
            pi += 1
            slots.append(
                {
                    "slot": f"{'ABCD'[s]}{i + 1}",
                    "sku": sku,
                    "name": name,
                    "unit": unit,
                    "price": price,
                    "tol": tolerance(unit),
                    "stock": rng.randint(12, 24),
                    "reach": bands[order[i]],
                    "view_pos": order[i],
                    "pop": rng.lognormvariate(0, 0.6),
                }
            )
        view = sorted(slots, key=lambda sl: sl["view_pos"])
        shelves.append({"device": f"shelf-{s + 1}", "slots": slots, "view": view})
    return shelves


def band_of(shelf, x):
    """The slot whose band holds x, else the one with the nearest band edge."""
    best, dist = None, 9.0
    for sl in shelf["view"]:
        a, b = sl["reach"]
        d = 0.0 if a <= x <= b else min(abs(x - a), abs(x - b))
        if d < dist:
            best, dist = sl, d
    return best


def stand_in(rng, slot):
    a, b = slot["reach"]
    w = b - a
    return rng.uniform(a + 0.15 * w, b - 0.15 * w)


# ----------------------------------------------------------------------------- people


class Track:
    """One person's passage through one shelf camera's view."""

    def __init__(self, sid, device):
        self.sid, self.device = sid, device
        self.keys = []  # (t, x) piecewise linear
        self.frontal = []  # (t0, t1): standing facing the shelf
        self.drift = None  # (t0, dt, steps) random walk during the stop

    def at(self, t):
        ks = self.keys
        if t <= ks[0][0]:
            return ks[0][1]
        for (t0, x0), (t1, x1) in zip(ks, ks[1:]):
            if t <= t1:
                return x0 if t1 <= t0 else x0 + (x1 - x0) * (t - t0) / (t1 - t0)
        return ks[-1][1]

    def drift_at(self, t):
        if not self.drift:
            return 0.0
        t0, dt, steps = self.drift
        if t < t0:
            return 0.0
        i = min(len(steps), int((t - t0) / dt) + 1)
        return sum(steps[:i])

    def is_frontal(self, t):
        return any(a <= t <= b for a, b in self.frontal)

    @property
    def start(self):
        return self.keys[0][0]

    @property
    def end(self):
        return self.keys[-1][0]


class World:
    def __init__(self, rng, flags, shelves):
        self.rng, self.flags, self.shelves = rng, flags, shelves
        self.tracks = []
        self.actions = []  # dicts: t, device, slot, kind, qty, by, link
        self.gates = []  # (t, device, [ids])
        self.occupied = {sh["device"]: [] for sh in shelves}  # (t0, t1, xlo, xhi, group)
        self.busy = {}  # (device, slot) -> [(t0, t1)]
        self.fps = 3.0 if "camera" in flags else 2.0

    # --- slot timing: one load cell reports one change at a time
    def slot_time(self, device, slot, t, hold=0.0):
        iv = self.busy.setdefault((device, slot), [])
        moved = True
        while moved:
            moved = False
            for a, b in iv:
                if t - SLOT_GAP_S < b and t + hold + SLOT_GAP_S > a:
                    t = b + SLOT_GAP_S + 0.05
                    moved = True
        iv.append((t, t + hold))
        return t

    def slot_free(self, device, slot, t0, t1):
        return all(
            t1 + SLOT_GAP_S <= a or t0 - SLOT_GAP_S >= b
            for a, b in self.busy.get((device, slot), [])
        )

    def act(self, t, device, slot, kind, qty, by=None, link=None):
        a = {
            "t": t,
            "device": device,
            "slot": slot,
            "kind": kind,
            "qty": qty,
            "by": by,
            "link": link,
            "id": len(self.actions),
        }
        self.actions.append(a)
        return a

    # --- personal space
    def conflicts(self, device, t0, t1, xs, group):
        out = []
        for a, b, lo, hi, g in self.occupied[device]:
            if g == group or b <= t0 or a >= t1:
                continue
            if any(lo - PERSONAL_SPACE < x < hi + PERSONAL_SPACE for x in xs):
                out.append(b)
        return out

    # --- one stop of a group (1 or 2 people) at one shelf, starting to enter view at t0
    def stop(self, group, shelf, t0):
        rng, flags = self.rng, self.flags
        dev = shelf["device"]
        couple = len(group) == 2
        edge = rng.choice([0.02, 0.98])
        speed = rng.uniform(0.35, 0.6)  # view widths per second while walking
        slots = shelf["view"]
        pops = [sl["pop"] for sl in slots]
        tried = []
        plan = None
        for _ in range(6):
            target = rng.choices(slots, weights=pops)[0]
            xa = stand_in(rng, target)
            xs = [xa]
            if couple:
                d = rng.uniform(0.08, 0.12)
                side = rng.choice([-1, 1])
                if not 0.03 <= xa + side * d <= 0.97:
                    side = -side
                xs.append(min(0.97, max(0.03, xa + side * d)))
            t_stand = t0 + abs(xa - edge) / speed
            tried.append((target, xs, t_stand))
            if not self.conflicts(dev, t_stand, t_stand + 8.0, xs, group[0]):
                plan = (target, xs, t_stand, None)
                break
        if plan is None:  # everything in reach is taken: wait beside the first choice
            target, xs, t_stand = tried[0]
            toward_edge = 1 if edge > xs[0] else -1
            t_wait = t_stand
            x_wait = [min(0.98, max(0.02, x + toward_edge * 0.17)) for x in xs]
            t_in = t_stand
            for _ in range(3):
                ends = self.conflicts(dev, t_in, t_in + 8.0, xs, group[0])
                if not ends:
                    break
                t_in = max(ends) + rng.uniform(0.3, 1.0)
            plan = (target, xs, t_in + rng.uniform(0.5, 0.9), (t_wait, x_wait, t_in))
        target, xs, t_stand, wait = plan

        tracks = []
        for k, sid in enumerate(group):
            tr = Track(sid, dev)
            lag = 0.0 if k == 0 else rng.uniform(0.2, 0.7)
            if wait:
                t_wait, x_wait, t_in = wait
                t_w = min(t_wait + lag * 0.5, t_in - 0.05)
                tr.keys = [
                    (min(t0 + lag, t_w - 0.05), edge),
                    (t_w, x_wait[k]),
                    (t_in, x_wait[k]),
                    (t_stand, xs[k]),
                ]
                tr.frontal.append((t_w, t_in))
            else:
                tr.keys = [
                    (t0 + lag, edge),
                    (max(t_stand, t0 + lag + abs(xs[k] - edge) / speed), xs[k]),
                ]
            tracks.append(tr)

        # what each member does while standing
        last = t_stand
        stand_from = [tr.keys[-1][0] for tr in tracks]
        pos_after = list(xs)
        for k, sid in enumerate(group):
            tr = tracks[k]
            t_here = stand_from[k]
            if k == 0:
                slot = target
                takes = rng.random() >= 0.12
            else:
                slot = band_of(shelf, xs[k])
                takes = rng.random() >= 0.3
            if not takes:
                last = max(last, t_here + rng.uniform(2.0, 6.0))
                continue
            if k == 1 and self.first_pick is not None and rng.random() < 0.4:
                tp = self.first_pick + rng.choice([-1, 1]) * rng.uniform(0.2, 1.0)
                tp = max(t_here + 0.4, tp)
            else:
                tp = t_here + rng.uniform(1.0, 3.5)
            tp = self.lift(dev, slot, tp, sid)
            if k == 0:
                self.first_pick = tp
            t_last = tp
            if rng.random() < 0.12:  # a second lift of the same product
                t_last = self.lift(dev, slot, t_last + rng.uniform(1.0, 3.0), sid)
            if rng.random() < 0.08:  # changes their mind: puts one back
                t_back = self.slot_time(dev, slot["slot"], t_last + rng.uniform(1.5, 4.0))
                self.act(t_back, dev, slot["slot"], "return", 1, sid, link=self.last_take)
                t_last = t_back
            if "sidestep" in flags and rng.random() < 0.35:
                i = slots.index(slot)
                sides = [j for j in (i - 1, i + 1) if 0 <= j < len(slots)]
                if couple:  # step away from the partner, not into them
                    other = xs[1 - k]
                    sides = [j for j in sides if (j - i) * (other - xs[k]) < 0]
                if sides:
                    nb = slots[rng.choice(sides)]
                    xb = stand_in(rng, nb)
                    t_go = t_last + rng.uniform(0.5, 1.5)
                    t_at = t_go + max(0.4, abs(xb - pos_after[k]) / rng.uniform(0.3, 0.5))
                    if not self.conflicts(dev, t_at, t_at + 4.0, [xb], group[0]):
                        tr.keys.append((t_go, pos_after[k]))
                        tr.keys.append((t_at, xb))
                        pos_after[k] = xb
                        t_last = self.lift(dev, nb, t_at + rng.uniform(0.5, 2.0), sid)
            last = max(last, t_last)
        self.first_pick = None

        # knocks: a bump on a slot near where someone stands; it settles back
        if "knocks" in flags and rng.random() < 0.15:
            k = rng.randrange(len(group))
            near = band_of(shelf, pos_after[k] + rng.uniform(-0.12, 0.12))
            tk = rng.uniform(stand_from[k] + 0.3, last + 1.0)
            back = rng.uniform(0.4, 2.0)
            if self.slot_free(dev, near["slot"], tk, tk + back):
                self.busy.setdefault((dev, near["slot"]), []).append((tk, tk + back))
                frac = rng.uniform(0.3, 0.6)
                a = self.act(tk, dev, near["slot"], "knock", frac)
                self.act(tk + back, dev, near["slot"], "unknock", frac, link=a["id"])
                last = max(last, tk + back)

        t_leave = last + rng.uniform(1.0, 3.5)
        out_edge = rng.choice([0.02, 0.98])
        t_gone = t_leave
        for k, tr in enumerate(tracks):
            end_stand = t_leave + (0.0 if k == 0 else rng.uniform(0.0, 0.6))
            start_stand = stand_from[k]
            tr.keys.append((end_stand, pos_after[k]))
            tr.keys.append((end_stand + abs(out_edge - pos_after[k]) / speed, out_edge))
            tr.frontal.append((start_stand, end_stand))
            if "drift" in flags:
                dt = 1.0 / self.fps
                n = int((end_stand - start_stand) / dt) + 2
                tr.drift = (start_stand, dt, [rng.gauss(0, 0.01) for _ in range(n)])
            spots = [xs[k], pos_after[k]]
            self.occupied[dev].append((start_stand, end_stand, min(spots), max(spots), group[0]))
            if wait:
                self.occupied[dev].append((wait[0], wait[2], wait[1][k], wait[1][k], group[0]))
            self.tracks.append(tr)
            t_gone = max(t_gone, tr.end)
        return t_gone

    first_pick = None
    last_take = None

    def lift(self, dev, slot, t, sid):
        qty = 1
        if "multi" in self.flags and self.rng.random() < 0.25:
            qty = self.rng.choice([2, 2, 3])
        t = self.slot_time(dev, slot["slot"], t)
        a = self.act(t, dev, slot["slot"], "take", qty, sid)
        self.last_take = a["id"]
        return t


def gate_frames(rng, device, group, times):
    if len(group) == 2 and abs(times[1] - times[0]) < 0.5 and rng.random() < 0.5:
        return [(times[0], device, list(group))]
    return [(t, device, [sid]) for sid, t in zip(group, times)]


# ----------------------------------------------------------------------------- weights


def make_people(rng, world):
    n = rng.randint(18, 22)
    couples = "couples" in world.flags
    groups = []
    made = 0
    while made < n:
        size = 2 if couples and n - made >= 2 and rng.random() < 0.176 else 1
        groups.append([f"s{made + i + 1:03d}" for i in range(size)])
        made += size
    arrivals = sorted(rng.uniform(1.0, 150.0) for _ in groups)
    for group, t_in in zip(groups, arrivals):
        times = [t_in] + [t_in + rng.uniform(0.1, 1.0) for _ in group[1:]]
        world.gates.extend(gate_frames(rng, "gate-in", group, times))
        t = max(times) + rng.uniform(3.0, 7.0)
        shelves = rng.sample(world.shelves, rng.randint(2, 4))
        for sh in shelves:
            t_gone = world.stop(group, sh, t)
            t = t_gone + rng.uniform(2.0, 6.0)
        t_out = t + rng.uniform(1.0, 4.0)
        times = [t_out] + [t_out + rng.uniform(0.1, 1.0) for _ in group[1:]]
        world.gates.extend(gate_frames(rng, "gate-out", group, times))
    return [sid for g in groups for sid in g]

"""The scenario generator: calibrated stores, and each perturbation doing what it says."""

from __future__ import annotations

import pytest

from store.replay.simulate import PERTURBATIONS, Params, generate, perturbations


def _store(lines):
    return next(x for x in lines if x["type"] == "store")


def _bands(lines) -> dict[str, list[tuple[float, float, str]]]:
    return {
        s["device"]: sorted((*s2["reach"], s2["slot"]) for s2 in s["slots"])
        for s in _store(lines)["shelves"]
    }


def test_every_slot_is_calibrated_and_bands_tile_the_view_without_overlap():
    for name in ("none", "shuffled"):
        lines = generate(Params(shoppers=6, seed=4, picks=30, perturb=perturbations(name)))
        for bands in _bands(lines).values():
            for (a1, a2, _), (b1, _b2, _) in zip(bands, bands[1:]):
                assert a1 < a2 <= b1 + 1e-9


def test_shuffled_bands_leave_code_order_and_differ_in_width():
    lines = generate(Params(shoppers=20, seed=1, picks=60, perturb=perturbations("shuffled")))
    orders = [[code for *_, code in bands] for bands in _bands(lines).values()]
    assert any(order != sorted(order) for order in orders)
    widths = {round(b - a, 3) for bands in _bands(lines).values() for a, b, _ in bands}
    assert len(widths) > 4


def test_faces_stay_near_their_bands_and_strangers_and_confusions_show_up():
    # Strangers come by now and then (every 15–40 s): a run of a couple of minutes has some.
    lines = generate(Params(shoppers=20, seed=1, picks=120, perturb=perturbations("all")))
    faces = [
        f
        for x in lines
        if x["type"] == "frame" and x["device"].startswith("shelf")
        for f in x["sees"]["shoppers"]
    ]
    assert any(str(f["id"]).startswith("stranger-") for f in faces)
    low = [f["confidence"] for f in faces if "confidence" in f]
    assert low and all(0.3 <= c <= 0.62 for c in low)
    gates = [x for x in lines if x["type"] == "frame" and x["device"].startswith("gate")]
    assert len(gates) > 2 * sum(1 for x in lines if x["type"] == "expect")  # several per pass


def test_shoppers_without_consent_walk_in_by_qr_and_camera_slots_show_hands():
    lines = generate(Params(shoppers=8, seed=3, picks=40, no_consent=0.3, camera_slots=0.5))
    refusing = {x["id"] for x in lines if x["type"] == "shopper" and x.get("face_consent") is False}
    assert refusing
    qr = {x["shopper"] for x in lines if x["type"] == "qr"}
    assert qr == refusing
    camera = [s for sh in _store(lines)["shelves"] for s in sh["slots"] if s["sensor"] == "camera"]
    assert camera
    frames = [x for x in lines if x["type"] == "frame" and "products" in x.get("sees", {})]
    assert any(x["sees"].get("hand") for x in frames)
    counts = [
        x["sees"]["products"][camera[0]["sku"]]
        for x in frames
        if camera[0]["sku"] in x["sees"]["products"]
    ]
    assert min(counts) < max(counts)


def test_an_unknown_perturbation_is_refused_by_name():
    with pytest.raises(ValueError, match="bogus"):
        perturbations("edge,bogus")
    assert perturbations("all") == frozenset(PERTURBATIONS)


def test_two_people_at_one_shelf_at_once_never_have_their_faces_in_one_place():
    import random

    from store.replay.sim.people import MIN_FACE_GAP, face_x
    from store.replay.sim.world import SlotState, Stop, World

    params = Params(perturb=perturbations("edge"))
    here = SlotState(0, "A2", "CHIPS", 45, 2, 40, reach=(0.3, 0.5))
    world = World(params, random.Random(3), [here])
    # Someone leans in on the shared edge with the band to the right, from t=10 to 14.
    world.stops.append(Stop(0, 10.0, 14.0, "s001", x=0.5))
    during = [face_x(world, here, 11.0, 13.0) for _ in range(300)]
    later = [face_x(world, here, 20.0, 24.0) for _ in range(300)]
    assert min(abs(x - 0.5) for x in during) >= MIN_FACE_GAP
    # Once they have gone, that edge is free again.
    assert min(abs(x - 0.5) for x in later) < MIN_FACE_GAP


def test_a_shopper_who_walks_straight_out_is_no_longer_at_the_shelf():
    lines = generate(Params(shoppers=20, seed=3, picks=120, perturb=perturbations("quick_exit")))
    exits = {
        x["sees"]["shoppers"][0]: x["t"]
        for x in lines
        if x["type"] == "frame" and x["device"] == "gate-out"
    }
    seen_after_exit = [
        (f["id"], x["t"])
        for x in lines
        if x["type"] == "frame" and x["device"].startswith("shelf")
        for f in x["sees"]["shoppers"]
        if f["id"] in exits and exits[f["id"]] <= x["t"]
    ]
    assert exits and not seen_after_exit


def test_noisy_load_cells_stay_within_spec():
    # Every change a shopper made reads as some count of a product within its tolerance: the
    # noise is the sensor's within its spec, never a reading the store could not explain.
    for seed in range(1, 6):
        lines = generate(
            Params(shoppers=20, seed=seed, picks=200, truth=True, perturb=perturbations("noise"))
        )
        products = {p["sku"]: p for p in _store(lines)["products"]}
        sku_of = {s["slot"]: s["sku"] for sh in _store(lines)["shelves"] for s in sh["slots"]}
        changes = [x for x in lines if x["type"] == "weight" and x.get("by")]
        assert len(changes) > 150
        for x in changes:
            change = x["after_g"] - x["before_g"]
            own = products[sku_of[x["slot"]]]
            fits = [
                abs(change - k * own["unit_weight_g"]) <= own["weight_tolerance_g"] * abs(k)
                for k in (-2, -1, 1, 2)
            ] + [
                abs(change - p["unit_weight_g"])
                <= max(p["weight_tolerance_g"], own["weight_tolerance_g"])
                for p in products.values()
            ]
            assert any(fits), (seed, x)


@pytest.mark.parametrize("frame_s", [0.5, 1.0])
def test_shelf_cameras_send_frames_at_the_interval_asked_for(frame_s):
    lines = generate(Params(shoppers=6, seed=2, picks=30, frame_s=frame_s))
    times = sorted({x["t"] for x in lines if x["type"] == "frame" and x["device"] == "shelf-1"})
    gaps = [round(b - a, 2) for a, b in zip(times, times[1:])]
    assert gaps and min(gaps) == frame_s
    assert all(round(g / frame_s, 6) == round(g / frame_s) for g in gaps)


def test_faces_stray_from_their_place_by_the_jitter_asked_for():
    def spread(jitter: float) -> float:
        lines = generate(Params(shoppers=6, seed=2, picks=30, face_jitter=jitter, truth=True))
        by: dict[tuple[str, str], list[float]] = {}
        for x in lines:
            if x["type"] == "frame" and x["device"].startswith("shelf"):
                for f in x["sees"]["shoppers"]:
                    by.setdefault((x["device"], str(f["id"])), []).append(f["x"])
        steps = [abs(b - a) for xs in by.values() for a, b in zip(xs, xs[1:])]
        return sorted(steps)[len(steps) // 2]

    assert spread(0.05) > 3 * spread(0.01)

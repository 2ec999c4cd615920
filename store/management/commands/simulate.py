"""`python manage.py simulate --shoppers N --seed S [--picks P] [--perturb all|a,b] OUT.jsonl`:
write a synthetic scenario with its expectations, for `manage.py replay`. The store's cameras
are calibrated (each slot's reach band is in the store line); `--perturb` switches on the ways
real stores are harder (see --help), one by one or all at once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from store.replay.simulate import PERTURBATIONS, Params, generate, perturbations, write


class Command(BaseCommand):
    help = "Write a synthetic store scenario with expectations (JSON lines)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("out")
        parser.add_argument("--shoppers", type=int, default=5, help="shoppers in the store at once")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--picks", type=int, default=0, help="items taken (default 10 × N)")
        parser.add_argument("--shelves", type=int, default=0, help="default: enough for the crowd")
        parser.add_argument(
            "--perturb",
            default="",
            help="'all' or comma-separated: "
            + "; ".join(f"{k}: {v}" for k, v in PERTURBATIONS.items()),
        )
        parser.add_argument(
            "--no-consent",
            type=float,
            default=0.0,
            help="share of shoppers without face consent (they enter and leave by QR code)",
        )
        parser.add_argument(
            "--camera-slots",
            type=float,
            default=0.0,
            help="share of slots watched by the shelf camera only (no load cell)",
        )
        parser.add_argument(
            "--frame-s",
            type=float,
            default=0.5,
            help="seconds between a shelf camera's frames (default 0.5: two a second)",
        )
        parser.add_argument(
            "--face-jitter",
            type=float,
            default=0.01,
            help="how far a face's measured position strays from frame to frame (sd, share of "
            "the view; default 0.01)",
        )
        parser.add_argument(
            "--truth", action="store_true", help="write who did each weight change ('by')"
        )

    def handle(self, *args, out: str, shoppers: int, seed: int, picks: int, shelves: int, **o):
        if shoppers < 1 or picks < 0 or shelves < 0:
            raise CommandError("--shoppers must be ≥ 1; --picks and --shelves ≥ 0")
        if not 0.05 <= o["frame_s"] <= 5:
            raise CommandError("--frame-s is between 0.05 and 5 seconds")
        if not 0 <= o["face_jitter"] <= 0.5:
            raise CommandError("--face-jitter is between 0 and 0.5 of the view")
        if not (0 <= o["no_consent"] <= 1 and 0 <= o["camera_slots"] <= 1):
            raise CommandError("--no-consent and --camera-slots are shares between 0 and 1")
        try:
            perturb = perturbations(o["perturb"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        params = Params(
            shoppers=shoppers,
            seed=seed,
            picks=picks or 10 * shoppers,
            shelves=shelves,
            perturb=perturb,
            no_consent=o["no_consent"],
            camera_slots=o["camera_slots"],
            truth=o["truth"],
            frame_s=o["frame_s"],
            face_jitter=o["face_jitter"],
        )
        lines = generate(params)
        write(lines, out)
        timed = sum(1 for line in lines if "t" in line)
        expects = sum(1 for line in lines if line.get("type") == "expect")
        on = ",".join(sorted(perturb)) or "none"
        self.stdout.write(
            f"{out}: {timed} messages, {expects} visits, {params.picks} picks; perturbations: {on}"
        )

"""`python manage.py simulate --shoppers N --seed S [--picks P] OUT.jsonl`: write a synthetic
scenario (put-backs, wrong-slot returns, two shoppers at one shelf, noisy sensors, unknown
faces) with its expectations, for `manage.py replay`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from store.replay.simulate import Params, generate, write


class Command(BaseCommand):
    help = "Write a synthetic store scenario with expectations (JSON lines)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("out")
        parser.add_argument("--shoppers", type=int, default=5, help="shoppers in the store at once")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--picks", type=int, default=0, help="items taken (default 10 × N)")
        parser.add_argument("--shelves", type=int, default=0, help="default: enough for the crowd")

    def handle(self, *args, out: str, shoppers: int, seed: int, picks: int, shelves: int, **o):
        if shoppers < 1 or picks < 0 or shelves < 0:
            raise CommandError("--shoppers must be ≥ 1; --picks and --shelves ≥ 0")
        params = Params(shoppers=shoppers, seed=seed, picks=picks or 10 * shoppers, shelves=shelves)
        lines = generate(params)
        write(lines, out)
        timed = sum(1 for line in lines if "t" in line)
        expects = sum(1 for line in lines if line.get("type") == "expect")
        self.stdout.write(f"{out}: {timed} messages, {expects} visits, {params.picks} picks")

"""`python manage.py replay SCENARIO.jsonl`: build the scenario's store in a fresh temporary
database of its own, drive it through the device protocol, print every receipt and, with
expectations in the file, the metrics line (each visit scored by its final receipt):
cAcc=<exact receipts>/<receipts> items_p=<precision> items_r=<recall> review=<events to review>
amended=<receipts changed after they were issued>

With --server URL it plays the scenario as real edge agents against a running MiniGo instead,
at --speed times real time, waits until that server has settled and prints the same line from
its receipts (see store/replay/remote.py)."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from asgiref.local import Local
from channels.layers import channel_layers
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from tqdm import tqdm

from minigo.celery import app
from store.replay.scenario import ScenarioError, load


def use_temporary_database(folder: Path) -> None:
    """Point Django at a new SQLite file in `folder`, an in-memory channel layer and eager
    tasks, before anything touched the configured database: the store's own data (and its
    Redis groups) are never touched."""
    connections.close_all()
    db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(folder / "replay.sqlite3"),
        "CONN_MAX_AGE": None,
        # A throwaway database: no fsync on every commit.
        "OPTIONS": {
            "timeout": 60,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;",
        },
    }
    settings.DATABASES = {"default": db}
    connections.__dict__.pop("settings", None)
    connections._settings = connections.configure_settings(settings.DATABASES)
    connections._connections = Local(connections.thread_critical)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    settings.MEDIA_ROOT = folder / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MINIGO["ACCEPT_SEES"] = True
    settings.MINIGO["KEEP_FRAMES"] = False
    call_command("migrate", verbosity=0, interactive=False)


class Command(BaseCommand):
    help = "Replay a scenario (JSON lines) through the device protocol and score the receipts."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("scenario")
        parser.add_argument("--server", help="play against a running MiniGo, e.g. ws://host:8000")
        parser.add_argument("--speed", type=float, default=1.0, help="times real time (--server)")
        parser.add_argument(
            "--tokens", help="file of 'device token' lines for --server (else --setup)"
        )
        parser.add_argument(
            "--setup",
            action="store_true",
            help="--server: create the scenario's own store (devices, shelves, products and "
            "shoppers under fresh names, never the store's planogram) in the configured "
            "database (the server's) and mint its device tokens",
        )
        parser.add_argument("--quiet", action="store_true", help="print only the metrics line")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, scenario: str, server: str | None, **opts):
        try:
            sc = load(scenario)
        except (OSError, ScenarioError) as exc:
            raise CommandError(str(exc)) from None
        if server:
            from store.replay.remote import play  # the websocket client, only for --server

            if opts["speed"] <= 0:
                raise CommandError("--speed must be positive")
            play(
                sc,
                server=server,
                speed=opts["speed"],
                tokens_file=opts["tokens"],
                setup=opts["setup"],
                out=self.stdout,
                progress=not opts["no_progress"],
            )
            return
        for name in ("celery", "kombu", "store"):
            logging.getLogger(name).setLevel(logging.WARNING)
        folder = Path(tempfile.mkdtemp(prefix="minigo-replay-"))
        try:
            use_temporary_database(folder)
            self._local(sc, quiet=opts["quiet"], progress=not opts["no_progress"])
        except ScenarioError as exc:  # found while building or playing it
            raise CommandError(str(exc)) from None
        finally:
            connections.close_all()
            shutil.rmtree(folder, ignore_errors=True)

    def _local(self, sc, *, quiet: bool, progress: bool) -> None:
        from store.replay.local import receipt_lines, replay_scenario  # the in-process driver

        bar = tqdm(
            total=len(sc.timeline), unit="msg", disable=not progress or quiet, file=self.stderr._out
        )

        def tick(done: int) -> None:
            bar.update(done - bar.n)

        outcome = replay_scenario(sc, progress=tick)
        bar.close()
        if not quiet:
            for text in receipt_lines(outcome):
                self.stdout.write(text)
            self.stdout.write("")
            self.stdout.write(
                f"{len(sc.timeline)} messages in {outcome.seconds:.1f}s; "
                f"{len(outcome.receipts)} receipts"
                + (f"; device errors: {dict(outcome.errors)}" if outcome.errors else "")
            )
        m = outcome.metrics
        if m is not None:
            if not quiet:
                share = m.review / m.events if m.events else 0.0
                for text in outcome.mismatches(sc.expects):
                    self.stdout.write(f"MISMATCH {text}")
                self.stdout.write(
                    f"cAcc {m.cacc:.4f}; {m.review} of {m.events} shelf events "
                    f"({share:.1%}) sent to review: {dict(outcome.reasons)}"
                )
            self.stdout.write(m.line())

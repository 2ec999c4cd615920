"""`manage.py video_frames VIDEO OUT --every SECONDS`: still frames from a video."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from store.management.commands._progress import bar
from vision.video import VideoError, video_frames


class Command(BaseCommand):
    help = "Split a video into JPEG frames, one every SECONDS (for labelling in labelImg)."

    def add_arguments(self, parser):
        parser.add_argument("video")
        parser.add_argument("out")
        parser.add_argument("--every", type=float, default=1.0, help="seconds between frames")

    def handle(self, *args, video: str, out: str, every: float, **options):
        try:
            written = video_frames(video, out, every_s=every, progress=bar)
        except VideoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Wrote {len(written)} frames to {out}"))

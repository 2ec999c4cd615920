from __future__ import annotations

from django.core.management.base import BaseCommand

from store.crypto import new_key


class Command(BaseCommand):
    help = "Print a new key for MINIGO_FACE_KEY (face embeddings are encrypted with it)."

    def handle(self, *args, **options):
        self.stdout.write(new_key())

"""`manage.py dataset export --format yolo|voc OUT` and `manage.py dataset import-voc DIR`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from store.errors import DomainError
from store.management.commands._progress import bar
from store.services.dataset import dataset_export, dataset_import_voc


class Command(BaseCommand):
    help = "Export the training dataset (YOLO or Pascal VOC) or import a labelImg folder."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the dataset for a trainer")
        export.add_argument("--format", choices=["yolo", "voc"], required=True, dest="fmt")
        export.add_argument("out", help="output directory (new or empty)")
        export.add_argument(
            "--include-unreviewed",
            action="store_true",
            help="also export frame detections nobody has reviewed yet",
        )
        export.add_argument("--val-fraction", type=float, default=0.1, help="YOLO only")
        imp = sub.add_parser("import-voc", help="import a labelImg folder (JPEG + VOC XML)")
        imp.add_argument("directory")
        imp.add_argument(
            "--skip-bad", action="store_true", help="import the good pairs, report the bad ones"
        )

    def handle(self, *args, action: str, **options):
        try:
            if action == "export":
                self._export(**options)
            else:
                self._import(**options)
        except DomainError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from None

    def _export(self, *, fmt: str, out: str, include_unreviewed: bool, val_fraction, **_):
        if not 0 <= val_fraction < 1:
            raise CommandError("--val-fraction is between 0 and 1")
        result = dataset_export(
            out=Path(out),
            fmt=fmt,
            include_unreviewed=include_unreviewed,
            val_fraction=val_fraction,
            progress=bar,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Exported {result.images} images, {result.boxes} boxes, "
                f"{len(result.classes)} classes ({', '.join(result.classes)}) as {fmt} to {out}"
            )
        )

    def _import(self, *, directory: str, skip_bad: bool, **_):
        result = dataset_import_voc(directory=Path(directory), skip_bad=skip_bad, progress=bar)
        for name, code, message in result.errors:
            self.stderr.write(f"{name}: {code}: {message}")
        if result.errors and not skip_bad:
            raise CommandError(
                f"{len(result.errors)} bad annotation(s); nothing was imported "
                "(fix them, or use --skip-bad to import the rest)"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.imported} images with {result.boxes} boxes"
                f" ({result.already_present} already present, "
                f"{len(result.errors)} skipped as bad, "
                f"{result.unlabelled_images} images without annotation ignored)"
            )
        )

"""Load a small demo store: products, two shelves with slots, gates, a manager account.

Idempotent: run it again and it leaves what exists alone, except that it prints the
manager's credentials each time (kept in var/demo-credentials.txt)."""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from store.models import Device, Product, Shelf, Slot
from store.services.devices import device_create

PRODUCTS = [
    ("COLA", "Cola 330ml", "1.50", 350, 15),
    ("JUICE", "Orange juice 250ml", "1.80", 280, 12),
    ("NOODLES", "Instant noodles", "0.90", 85, 6),
    ("WATER", "Still water 500ml", "0.80", 520, 15),
    ("CHOC", "Chocolate bar", "1.20", 50, 4),
    ("CHIPS", "Crisps 40g", "1.10", 45, 4),
]
SHELVES = [
    ("Drinks", "shelf-1", [("A1", "COLA", 12), ("A2", "JUICE", 10), ("A3", "WATER", 12)]),
    ("Snacks", "shelf-2", [("B1", "NOODLES", 15), ("B2", "CHOC", 20), ("B3", "CHIPS", 20)]),
]
GATES = [("gate-in", "entry", "Entrance"), ("gate-out", "exit", "Exit")]


class Command(BaseCommand):
    help = "Create the demo store (idempotent) and print the manager's credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="manager")

    @transaction.atomic
    def handle(self, *args, username: str, **options):
        products = {}
        for sku, name, price, weight, tol in PRODUCTS:
            products[sku], _ = Product.objects.get_or_create(
                sku=sku,
                defaults={
                    "name": name,
                    "price": Decimal(price),
                    "unit_weight_g": weight,
                    "weight_tolerance_g": tol,
                    "tax_rate": Decimal("0.07"),
                },
            )
        tokens = {}
        for device_id, kind, name in GATES:
            if not Device.objects.filter(device_id=device_id).exists():
                _, tokens[device_id] = device_create(device_id=device_id, kind=kind, name=name)
        for shelf_name, device_id, slots in SHELVES:
            device = Device.objects.filter(device_id=device_id).first()
            if device is None:
                device, tokens[device_id] = device_create(
                    device_id=device_id, kind="shelf", name=shelf_name
                )
            shelf, _ = Shelf.objects.get_or_create(
                name=shelf_name, defaults={"device": device, "has_camera": True}
            )
            for code, sku, stock in slots:
                Slot.objects.get_or_create(
                    shelf=shelf,
                    code=code,
                    defaults={"product": products[sku], "stock": stock, "capacity": 24},
                )
        password = self._manager(username)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo store ready: "
                f"{Product.objects.count()} products, "
                f"{Shelf.objects.count()} shelves, "
                f"{Device.objects.count()} devices."
            )
        )
        self.stdout.write(f"Manager sign-in: username '{username}', password '{password}'")
        if tokens:
            path = settings.VAR_DIR / "demo-device-tokens.txt"
            with path.open("a") as fh:
                for device_id, token in tokens.items():
                    fh.write(f"{device_id} {token}\n")
            path.chmod(0o600)
            self.stdout.write(f"New device tokens written to {path} (shown only there).")

    def _manager(self, username: str) -> str:
        creds = settings.VAR_DIR / "demo-credentials.txt"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None and creds.exists():
            return creds.read_text().split()[1]
        password = secrets.token_urlsafe(9)
        if user is None:
            user = User.objects.create_user(username=username, is_staff=True, is_superuser=True)
        user.set_password(password)
        user.save()
        creds.write_text(f"{username} {password}\n")
        creds.chmod(0o600)
        return password

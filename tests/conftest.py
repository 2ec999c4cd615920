"""Shared personas and a small store, built once per test that asks for them.

Personas: `manager` (staff), `shopper` and `other_shopper` (each with a Shopper profile),
`outsider` (signed in, no shopper profile), and devices with their tokens."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
SCENARIOS = Path(FIXTURES) / "scenarios"


def pytest_configure(config):
    from minigo.celery import app as celery_app
    from minigo.local_state import ensure_folders

    ensure_folders()  # the SQLite test database lives in VAR_DIR, as manage.py would make it
    # Tests run Celery tasks in-process unless a test starts a real worker itself.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    # Tests decide when periodic jobs run; a daphne started by a test runs its own beat.
    django_settings.MINIGO["EMBEDDED_BEAT"] = False


def at_once(*calls: Callable[[], Any]) -> tuple[list[Any], list[Exception]]:
    """Run the calls in threads released together (as racing workers would be), each closing
    its own database connection; returns their results and their errors."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []
    errors: list[Exception] = []

    def run(call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=60)
            results.append(call())
        except Exception as exc:  # the caller asserts on them
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


def needs_postgres():
    return pytest.mark.skipif(
        django_settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs PostgreSQL: set DATABASE_URL (CI does)",
    )


def needs_redis():
    return pytest.mark.skipif(
        not django_settings.REDIS_URL, reason="needs Redis: set REDIS_URL (CI does)"
    )


@pytest.fixture(scope="session", autouse=True)
def _end_stray_connections(django_db_setup, django_db_blocker):
    """Consumers' database threads can leave a connection open to the test database, which
    stops PostgreSQL from dropping it at the end; end them before the teardown runs."""
    yield
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer per test: the Redis layer's locks bind to the event loop that first
    uses them, and each async test (and each async_to_sync call) runs its own loop."""
    yield
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_wake_registry_and_pixels():
    """Embedded, the waiting-events registry and the frames cache live in the process: one
    test's events and pixels must not meet the next test's frames (ids are reused)."""
    yield
    from django.core.cache import caches

    from store.services.wakes import registry_clear

    registry_clear()
    postgres = django_settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if not (django_settings.REDIS_URL and postgres):  # there ids never come back
        caches["frames"].clear()
        caches["default"].clear()  # "last seen" marks of shelves whose ids come back


@pytest.fixture(autouse=True)
def _isolated_media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def replay_settings(settings):
    """A replay in the test process: frames may say what they `see`, and their pixels go once
    processed."""
    settings.MINIGO = {**settings.MINIGO, "ACCEPT_SEES": True, "KEEP_FRAMES": False}
    return settings


@pytest.fixture
def make_user(django_user_model):
    def make(username: str, *, staff: bool = False, shopper: bool = True, email: str = ""):
        from store.models import Shopper

        user = django_user_model.objects.create_user(
            username=username,
            password="pw-" + username,
            is_staff=staff,
            is_superuser=staff,
            email=email or f"{username}@example.com",
        )
        if shopper:
            Shopper.objects.create(user=user, display_name=username.title())
        return user

    return make


@pytest.fixture
def manager(make_user):
    return make_user("manager", staff=True, shopper=False)


@pytest.fixture
def shopper(make_user):
    return make_user("kit").shopper


@pytest.fixture
def other_shopper(make_user):
    return make_user("ana").shopper


@pytest.fixture
def outsider(make_user):
    return make_user("outsider", shopper=False)


@pytest.fixture
def store(db):
    """Two products on one load-cell shelf with a camera, plus an entry and an exit gate."""
    from store.models import Product, Shelf, Slot
    from store.services.devices import device_create

    cola = Product.objects.create(
        sku="COLA",
        name="Cola 330ml",
        price=Decimal("1.50"),
        unit_weight_g=350,
        weight_tolerance_g=15,
        tax_rate=Decimal("0.20"),
    )
    chips = Product.objects.create(
        sku="CHIPS", name="Crisps", price=Decimal("1.10"), unit_weight_g=45, weight_tolerance_g=4
    )
    shelf_device, shelf_token = device_create(device_id="shelf-1", kind="shelf")
    gate_in, gate_in_token = device_create(device_id="gate-in", kind="entry")
    gate_out, gate_out_token = device_create(device_id="gate-out", kind="exit")
    shelf = Shelf.objects.create(name="Drinks", device=shelf_device, has_camera=True)
    a1 = Slot.objects.create(shelf=shelf, code="A1", product=cola, stock=12, capacity=20)
    a2 = Slot.objects.create(shelf=shelf, code="A2", product=chips, stock=10, capacity=20)

    class Store:
        pass

    s = Store()
    s.cola, s.chips, s.shelf, s.a1, s.a2 = cola, chips, shelf, a1, a2
    s.shelf_device, s.gate_in, s.gate_out = shelf_device, gate_in, gate_out
    s.tokens = {"shelf-1": shelf_token, "gate-in": gate_in_token, "gate-out": gate_out_token}
    return s


@pytest.fixture
def visit(store, shopper):
    from store.services.visits import visit_open

    return visit_open(shopper=shopper, device=store.gate_in)[0]

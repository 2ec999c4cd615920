"""Migrations: the models and the migration files agree, and renaming a migration does not make
an existing database apply it again."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

# (old name, the name it has now): databases migrated before the rename hold the old ones.
RENAMED = [
    ("0003_issue5_sightings", "0003_sighting"),
    ("0003_issue6_slot_camera_region", "0003_slot_camera_region"),
    ("0004_merge_issue5_issue6", "0004_merge_sighting_slot_camera_region"),
]


@pytest.mark.django_db
def test_the_models_need_no_new_migration():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db
def test_a_database_migrated_under_the_old_names_has_nothing_to_apply():
    recorded = MigrationRecorder(connection).Migration.objects
    recorded.filter(app="store", name__in=[new for _, new in RENAMED]).delete()
    for old, _ in RENAMED:
        recorded.get_or_create(app="store", name=old)

    executor = MigrationExecutor(connection)
    executor.loader.check_consistent_history(connection)

    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    for _, new in RENAMED:
        assert ("store", new) in executor.loader.applied_migrations


@pytest.mark.django_db
def test_a_migration_that_still_names_an_old_migration_follows_the_rename():
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    # What a migration written before the rename depends on resolves to the renamed one.
    assert ("store", "0004_merge_issue5_issue6") not in graph.nodes
    merge = graph.node_map[("store", "0004_merge_sighting_slot_camera_region")]
    assert {parent.key for parent in merge.parents} == {
        ("store", "0003_sighting"),
        ("store", "0003_slot_camera_region"),
    }

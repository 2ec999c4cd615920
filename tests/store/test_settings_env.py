from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from minigo.env import envbool, envfloat, envint, envlist


def test_it_reads_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_FLOAT", "0.5")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert envbool("X_BOOL", False) is True
    assert envint("X_INT", 1) == 42
    assert envfloat("X_FLOAT", 1.0) == 0.5
    assert envlist("X_LIST", []) == ["a", "b", "c"]


def test_it_uses_defaults_when_unset(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    assert envbool("X_UNSET", True) is True
    assert envint("X_UNSET", 7) == 7


@pytest.mark.parametrize(
    "reader,value",
    [(envbool, "maybe"), (envint, "ten"), (envfloat, "fast"), (envint, "-3")],
)
def test_it_refuses_bad_values(monkeypatch, reader, value):
    monkeypatch.setenv("X_BAD", value)
    with pytest.raises(ImproperlyConfigured, match="X_BAD"):
        if reader is envint:
            reader("X_BAD", 1, minimum=0)
        else:
            reader("X_BAD", 1)


def test_settings_refuse_a_non_postgres_database_url(tmp_path):
    import subprocess
    import sys

    env = {"DATABASE_URL": "mysql://u@h/db", "MINIGO_VAR_DIR": str(tmp_path), "PATH": "/usr/bin"}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'minigo.settings'; django.setup()",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "DATABASE_URL must be a postgres" in proc.stderr

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from minigo.env import envbool, envfloat, envint, envlist

ROOT = Path(__file__).resolve().parents[2]


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


def _python(code: str, var: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"MINIGO_VAR_DIR": str(var), "PATH": "/usr/bin", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


SETUP = (
    "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'minigo.settings'; django.setup()"
)


def test_importing_the_settings_creates_no_folder_and_no_key(tmp_path):
    var = tmp_path / "var"
    proc = _python(f"{SETUP}; from django.conf import settings; print(settings.STATIC_ROOT)", var)
    assert proc.returncode == 0, proc.stderr
    assert not var.exists()


def test_manage_py_makes_the_folders_before_any_command(tmp_path):
    var = tmp_path / "var"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check"],
        env={"MINIGO_VAR_DIR": str(var), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (var / "staticfiles").is_dir()
    assert not (var / "secret_key").exists()  # nothing was signed


def test_the_local_secret_key_is_made_on_first_use_and_kept(tmp_path):
    var = tmp_path / "var"
    sign = f"{SETUP}; from django.core import signing; print(signing.dumps('kit'))"
    first = _python(sign, var)
    assert first.returncode == 0, first.stderr
    key = var / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_text().strip()) >= 50
    # Another process (a restart, a worker) signs with the same key.
    check = (
        f"{SETUP}; from django.core import signing; print(signing.loads({first.stdout.strip()!r}))"
    )
    second = _python(check, var)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "kit"


def test_a_secret_key_from_the_environment_writes_no_file(tmp_path):
    var = tmp_path / "var"
    proc = _python(
        f"{SETUP}; from django.conf import settings; from django.core import signing; "
        "signing.dumps(1); print(settings.SECRET_KEY)",
        var,
        SECRET_KEY="from-the-environment-" + "x" * 40,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("from-the-environment-")
    assert not (var / "secret_key").exists()


def test_a_key_made_by_another_process_meanwhile_wins(tmp_path):
    from minigo.local_state import local_key

    path = tmp_path / "key"

    def make() -> str:
        path.write_text("the worker's")  # another process links its key while we write ours
        return "the server's"

    assert local_key(path, make) == "the worker's"
    assert local_key(path, lambda: "never made") == "the worker's"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]  # no draft left behind

"""The folder a local install keeps its state in (MINIGO_VAR_DIR, default var/): the SQLite
database, the secret and face keys, demo credentials, mail files.

Settings only name these paths; importing them creates nothing. The folders are made by
`ensure_folders()`, which `manage.py` runs before any command (so `make run` and every
management command find them) and the test session runs before its database is created. Keys
are made on first use by `local_key`, so a process that never signs or decrypts anything never
writes one.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from functools import cache
from pathlib import Path

from django.utils.functional import lazy


def ensure_folders() -> None:
    from django.conf import settings

    # WhiteNoise warns about a missing STATIC_ROOT even though it serves from the finders.
    # getattr: a settings module of one's own need not name them.
    for folder in (getattr(settings, "VAR_DIR", None), getattr(settings, "STATIC_ROOT", None)):
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)


def local_key(path: Path, make: Callable[[], str]) -> str:
    """The key kept in `path`, made with `make()` (mode 0600) the first time.

    The server and a worker starting together must not each keep a different key: the new key
    is written to a private file and linked into place, which fails if another process got
    there first, and then everyone reads the one that won."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(make())
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink(missing_ok=True)
    return path.read_text().strip()


def lazy_secret_key(var_dir: Path) -> str:
    """Django's SECRET_KEY for an install that sets none: random, kept in var_dir/secret_key,
    never a key shipped in the repository. It is read (or made) when Django first signs
    something, not when the settings are imported."""

    @cache
    def read() -> str:
        return local_key(var_dir / "secret_key", lambda: secrets.token_urlsafe(50))

    return lazy(read, str)()

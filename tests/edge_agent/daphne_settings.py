"""Settings for a daphne server started by a test: the project's settings, pointed at the
test database the test process created (a file for SQLite, a database for PostgreSQL)."""

import os

from minigo.settings import *  # noqa: F403
from minigo.settings import DATABASES, MINIGO

DATABASES["default"]["NAME"] = os.environ["MINIGO_TEST_SERVER_DB"]
MINIGO["FRAME_MAX_BYTES"] = int(
    os.environ.get("MINIGO_TEST_FRAME_MAX_BYTES", MINIGO["FRAME_MAX_BYTES"])
)

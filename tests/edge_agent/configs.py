"""An agent config for tests: shelf-1 of a server nobody listens on, its outbox in the test's
folder, replaying the recorded noisy pick on A1; `over` replaces whole top-level sections."""

from __future__ import annotations

import os

from edge_agent.config import AgentConfig, parse
from tests.conftest import FIXTURES

NOISY_PICK = os.path.join(FIXTURES, "sensors", "noisy_pick.csv")


def agent_config(tmp_path, **over) -> AgentConfig:
    data = {
        "server": {
            "url": "ws://127.0.0.1:1/ws/device/",
            "token": "t",
            "device": "shelf-1",
            "kind": "shelf",
        },
        "outbox": {"path": str(tmp_path / "outbox.sqlite3")},
        "sensors": [
            {
                "slot": "A1",
                "type": "replay",
                "sensor": "load_cell",
                "file": NOISY_PICK,
                "realtime": False,
            }
        ],
    }
    data.update(over)
    return parse(data)

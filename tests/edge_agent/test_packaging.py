"""The agent installs as its own package (`pip install ./edge_agent`), without the server's
requirements, and runs from its `minigo-agent` entry point.

The wheel is built offline with this environment's setuptools (no build isolation: nothing is
downloaded) from a copy of the folder, so a build leaves nothing behind in the checkout, and
installed into a fresh venv that has no third-party package at all."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

AGENT_DIR = Path(__file__).resolve().parents[2] / "edge_agent"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src") / "edge_agent"
    shutil.copytree(
        AGENT_DIR, src, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--quiet", "-w", str(out), str(src)],
        check=True,
        timeout=240,
    )
    (built,) = out.glob("minigo_agent-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory, wheel) -> Path:
    env = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=240,
    )
    return env


def test_the_wheel_needs_only_websockets_and_carries_the_example_config(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = whl.read(meta).decode()
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = whl.read(entry_points).decode()
    required = [
        line.split(":", 1)[1].strip()
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert required == ["websockets>=12"]
    assert "minigo-agent = edge_agent.__main__:main" in scripts
    assert {"edge_agent/sensors.py", "edge_agent/agent.example.toml"} <= names
    assert not any(n.startswith(("tests/", "store/", "minigo/")) for n in names)


def test_the_installed_entry_point_runs_in_a_venv_without_the_server(venv, tmp_path):
    script = venv / "bin" / "minigo-agent"
    help_text = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert help_text.startswith("usage: minigo-agent")
    assert "calibrate" in help_text and "outbox" in help_text

    config = tmp_path / "agent.toml"
    config.write_text(
        '[server]\nurl = "ws://127.0.0.1:1/ws/device/"\ntoken = "t"\ndevice = "gate-in"\n'
        f'kind = "entry"\n[outbox]\npath = "{tmp_path / "outbox.sqlite3"}"\n'
    )
    shown = subprocess.run(
        [str(script), "--config", str(config), "outbox"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout: the installed package is what runs
    )
    assert shown.returncode == 0, shown.stderr
    assert "'events': 0" in shown.stdout
    # Nothing of the server's is there to import by accident.
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import django"], capture_output=True, timeout=60
    )
    assert probe.returncode != 0

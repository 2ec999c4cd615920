"""The replay is a measurement: the same scenario gives the same receipts, the same review
queue and the same metrics line on every run, however loaded the machine is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from store.replay.simulate import Params, generate, perturbations, write

ROOT = Path(__file__).resolve().parents[2]


def _replay(scenario: Path, var: Path) -> subprocess.Popen:
    env = {**os.environ, "MINIGO_VAR_DIR": str(var), "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "replay", str(scenario), "--no-progress"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _output(proc: subprocess.Popen) -> list[str]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    # Everything but the line saying how long the run took.
    return [line for line in out.splitlines() if " messages in " not in line]


@pytest.mark.slow
def test_one_scenario_replayed_twice_gives_the_same_output_whatever_the_load(tmp_path):
    scenario = tmp_path / "s.jsonl"
    params = Params(shoppers=6, seed=11, picks=36, perturb=perturbations("all"))
    write(generate(params), scenario)
    alone = _output(_replay(scenario, tmp_path / "a"))
    # Twice more at once: each competes with the other for the CPU.
    both = [_replay(scenario, tmp_path / "b"), _replay(scenario, tmp_path / "c")]
    loaded = [_output(p) for p in both]
    assert alone[-1].startswith("cAcc=")
    assert sum(1 for line in alone if line.startswith("MiniGo receipt")) >= 6
    assert loaded[0] == alone
    assert loaded[1] == alone

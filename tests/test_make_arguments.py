"""Make targets hand what an officer typed to Python in the environment, never to a shell."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_make_rejected_passes_a_hostile_quarter_untouched(tmp_path):
    canary = tmp_path / "executed"
    quarter = f'2026Q3"; touch {canary}; echo "$(shell touch {canary})`touch {canary}`'
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"), "MAKEFLAGS": ""}
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "rejected", f"QUARTER={quarter}"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert not canary.exists()
    assert done.returncode != 0 and "仓库文件" in done.stderr + done.stdout


def test_make_rejected_without_a_quarter_says_how_to_call_it(tmp_path):
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"), "MAKEFLAGS": "", "QUARTER": ""}
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "rejected"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode != 0 and "用法: make rejected QUARTER=2026Q3" in done.stderr

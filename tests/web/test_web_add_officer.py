"""`make add-officer`: what an officer types reaches Python untouched, never a shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from web.accounts import get_officer
from web.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_make_add_officer_passes_hostile_names_to_python_untouched(tmp_path):
    canary = tmp_path / "executed"
    username = f"zx`touch${{IFS}}{canary}`$(touch${{IFS}}{canary})"
    name = f'王五"; touch {canary}; echo "$(touch {canary})'
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"), "WEB_DIR": str(tmp_path / "web"),
           "MAKEFLAGS": ""}
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "add-officer", f"USERNAME={username}", "ROLE=district",
         "DISTRICT=江夏区", f"NAME={name}"],
        input="correct-horse-9\ncorrect-horse-9\n", capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert not canary.exists()
    officer = get_officer(Store(tmp_path / "web" / "workbench.sqlite3"), username)
    assert officer is not None and officer.display_name == name and officer.district == "江夏区"


def test_add_officer_without_a_role_says_how_to_call_it(tmp_path):
    env = {**os.environ, "WEB_DIR": str(tmp_path / "web"), "USERNAME": "abc", "ROLE": ""}
    done = subprocess.run([sys.executable, "-m", "web.add_officer", "--from-env"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "用法: make add-officer" in done.stderr

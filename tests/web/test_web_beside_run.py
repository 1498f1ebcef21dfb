"""The workbench beside a real pipeline run (`make run`'s entry point in a subprocess): a decision
recorded while the run holds the warehouse is shown at once, kept, and reaches `reviews` after the
run; the web's background step never makes the run fail."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
from starlette.testclient import TestClient

from matchers.reports.labels import DECISIONS
from web.app import create_app
from web.http import CSRF_FIELD
from web.snapshot import writer_busy

from conftest import csrf_of, login
from test_web_pages import flag_ids

ROOT = Path(__file__).resolve().parents[2]


def start_run(settings, tmp_path: Path, quarter: str) -> subprocess.Popen:
    env = dict(os.environ, EXTRACTS_DIR=str(settings.extracts_dir), WAREHOUSE_PATH=str(settings.warehouse_path),
               EXPORTS_DIR=str(settings.exports_dir), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               DAGSTER_DISABLE_TELEMETRY="1", PYTHONPATH=str(ROOT),
               WAREHOUSE_PAUSE_AT="publish", WAREHOUSE_PAUSE_SECONDS="15")
    return subprocess.Popen([sys.executable, "-m", "pipelines.run_quarter", "--quarter", quarter], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_holds_lock(warehouse_path: Path) -> bool:
    """The Dagster run (not `make run`'s quick probe before it) holds the writer lock: the lock file
    names its run id, and the lock is taken. The run holds it to its end, through a 15 s pause."""
    lock = Path(str(warehouse_path) + ".lock")
    try:
        holder = json.loads(lock.read_text(encoding="utf-8") or "{}").get("run")
    except (OSError, ValueError):
        return False
    return bool(holder) and holder != "核查工作台" and writer_busy(warehouse_path)


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.1)


def test_decision_recorded_during_a_run_is_shown_kept_and_transferred_after_it(settings, tmp_path):
    app = create_app(settings, background=True)  # the sync step runs every half second throughout
    wb = app.state.workbench
    with TestClient(app) as client:
        assert login(client, "jiangxia").status_code == 303
        csrf = csrf_of(client.get("/").text)
        fid = flag_ids(client.get("/flags?quarter=2026Q3").text)[0]
        run = start_run(settings, tmp_path, "2026Q3")
        try:
            wait_for(lambda: run_holds_lock(settings.warehouse_path) or run.poll() is not None, 300,
                     "the run never started")
            assert run.poll() is None, run.communicate()[0][-3000:]
            r = client.post("/decisions", data={CSRF_FIELD: csrf, "flag_id": fid, "decision": DECISIONS[1],
                                                "note": "运行期间录入"}, follow_redirects=False)
            assert r.status_code == 303
            assert fid in flag_ids(client.get(f"/flags?quarter=2026Q3&status={DECISIONS[1]}").text)
            assert run_holds_lock(settings.warehouse_path) and wb.store.pending("inbox_decisions")
            out, _ = run.communicate(timeout=600)
        finally:
            if run.poll() is None:
                run.kill()
        assert run.returncode == 0, out[-3000:]
        wait_for(lambda: not wb.store.pending("inbox_decisions"), 60, "the inbox was not transferred after the run")
        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        try:
            rows = con.execute("SELECT decision, note, reviewer FROM reviews WHERE flag_id = ?", [fid]).fetchall()
        finally:
            con.close()
        assert rows == [(DECISIONS[1], "运行期间录入", "江夏核查员")]
        wait_for(lambda: wb.snapshot.taken_at > wb.store.rows("SELECT max(transferred_at) AS t FROM inbox_decisions")[0]["t"],
                 60, "no fresh warehouse copy after the transfer")
        assert fid in flag_ids(client.get(f"/flags?quarter=2026Q3&status={DECISIONS[1]}").text)

"""A run killed mid-write leaves the warehouse as it was; two runs at once give one clean result and
one clear message. Both run `make run`'s entry point in real subprocesses."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "extracts"


def _start(tmp: Path, quarter: str, **extra) -> subprocess.Popen:
    from tests.conftest import pipeline_environment

    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.run_quarter", "--quarter", quarter],
        cwd=ROOT,
        env=pipeline_environment(tmp, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    shutil.copytree(SAMPLE / "2026Q2", tmp / "extracts" / "2026Q2")
    shutil.copytree(SAMPLE / "2026Q3", tmp / "extracts" / "2026Q3")
    p = _start(tmp, "2026Q2")
    out, _ = p.communicate(timeout=600)
    assert p.returncode == 0, out[-3000:]
    con = duckdb.connect(str(tmp / "wh.duckdb"))
    con.execute(
        "INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at) "
        "SELECT flag_id, '属实待处理', '入户核查中', '测试员', now() FROM flags LIMIT 3"
    )
    con.close()
    return tmp


def test_run_killed_inside_the_publish_transaction_leaves_warehouse_unchanged(baseline, published_tables):
    before = published_tables(baseline / "wh.duckdb")
    p = _start(baseline, "2026Q3", WAREHOUSE_CRASH_AT="publish")
    out, _ = p.communicate(timeout=600)
    assert p.returncode != 0  # killed by SIGKILL inside publish_quarter
    assert published_tables(baseline / "wh.duckdb") == before
    # and the file is healthy: the next run succeeds and publishes the quarter
    ok = _start(baseline, "2026Q3")
    out, _ = ok.communicate(timeout=600)
    assert ok.returncode == 0, out[-3000:]
    after = published_tables(baseline / "wh.duckdb")
    assert after["reviews"] == before["reviews"]
    con = duckdb.connect(str(baseline / "wh.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM source_records WHERE quarter = '2026Q3'").fetchone()[0] > 0
    con.close()


def test_run_killed_early_leaves_published_tables_unchanged(baseline, published_tables):
    before = published_tables(baseline / "wh.duckdb")
    p = _start(baseline, "2026Q3")
    deadline = time.time() + 300
    for line in p.stdout:  # kill as soon as the first department has been read
        if "个文件" in line or time.time() > deadline:
            break
    p.kill()
    p.wait(timeout=60)
    assert published_tables(baseline / "wh.duckdb") == before


def _lock_is_held(warehouse_path: Path) -> bool:
    import fcntl

    lock = Path(str(warehouse_path) + ".lock")
    if not lock.exists():
        return False
    with open(lock, "a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return False


def test_two_runs_at_once_give_one_result_and_one_clear_message(baseline):
    # The first run holds the warehouse inside its publishing transaction for 20 s, whatever the
    # machine's speed, so the second one certainly meets it.
    first = _start(baseline, "2026Q3", WAREHOUSE_PAUSE_AT="publish", WAREHOUSE_PAUSE_SECONDS="20")
    deadline = time.time() + 300
    while not _lock_is_held(baseline / "wh.duckdb"):  # held from its start to its end (>= 20 s)
        assert first.poll() is None and time.time() < deadline
        time.sleep(0.1)
    second = _start(baseline, "2026Q2")
    out2, _ = second.communicate(timeout=600)
    out1, _ = first.communicate(timeout=600)
    assert first.returncode == 0, out1[-3000:]
    assert second.returncode != 0
    assert "另一个比对作业正在写入仓库" in out2 and "本次运行未做任何修改" in out2
    con = duckdb.connect(str(baseline / "wh.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM flags WHERE quarter = '2026Q3'").fetchone()[0] > 0
    con.close()

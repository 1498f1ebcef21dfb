"""The warehouse copy the pages read: taken only when the warehouse is free and unchanged while
copying, renewed when the warehouse changes, not after the workbench's own transfers."""

from __future__ import annotations

import os
import shutil

import duckdb

from matchers import warehouse
from matchers.reports.labels import DECISIONS
from web import snapshot as snapshot_module
from web.accounts import get_officer
from web.service import Workbench


def touch_warehouse(path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE IF NOT EXISTS other_change AS SELECT 1 AS x")
    con.close()


def first_flag(wb: Workbench) -> tuple[str, str]:
    return wb.snapshot.cursor().execute("SELECT flag_id, quarter FROM wb_flags ORDER BY flag_id LIMIT 1").fetchone()


def test_no_copy_while_a_run_holds_the_warehouse(settings):
    lock = warehouse.WriterLock(settings.warehouse_path)
    lock.acquire(holder="run")
    try:
        wb = Workbench(settings)
        wb.sync_now()
        assert wb.snapshot is None
    finally:
        lock.release()
    wb.sync_now()
    assert wb.snapshot is not None
    wb.stop()


def test_copy_of_a_file_changed_while_copying_is_dropped(settings, monkeypatch):
    real = shutil.copyfile

    def copy_then_change(src, dst):
        real(src, dst)
        st = os.stat(settings.warehouse_path)
        os.utime(settings.warehouse_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))

    monkeypatch.setattr(snapshot_module.shutil, "copyfile", copy_then_change)
    wb = Workbench(settings)
    wb.sync_now()
    assert wb.snapshot is None and not list((settings.web_dir / "snapshots").glob("*.duckdb"))
    monkeypatch.setattr(snapshot_module.shutil, "copyfile", real)
    wb.sync_now()
    assert wb.snapshot is not None
    wb.stop()


def test_own_transfer_keeps_the_copy_and_shows_the_decision_other_changes_renew_it(settings):
    wb = Workbench(settings)
    wb.sync_now()
    first = wb.snapshot
    fid, quarter = first_flag(wb)
    wb.store.add_decisions([{"flag_id": fid, "quarter": quarter, "decision": DECISIONS[3]}], "测试")
    wb.sync_now()
    assert not wb.store.pending("inbox_decisions")  # in reviews now
    assert wb.snapshot is first  # not copied again for its own rows ...
    assert wb.scope(get_officer(wb.store, "city")).inbox == {fid: DECISIONS[3]}  # ... which the pages still show
    touch_warehouse(settings.warehouse_path)  # a run published something
    wb.sync_now()
    assert wb.snapshot is not first
    status = wb.snapshot.cursor().execute("SELECT DISTINCT status FROM wb_flags WHERE flag_id = ?", [fid]).fetchall()
    assert status == [(DECISIONS[3],)]
    wb.stop()

"""Downloading a district's 核查名单 and uploading a filled one through the workbench."""

from __future__ import annotations

import io
from urllib.parse import quote

import duckdb
import openpyxl

from matchers import warehouse
from matchers.privacy import contains_full_id
from matchers.reports.labels import DECISIONS
from matchers.reports.columns import COL_DECISION, COL_FLAG_ID, COL_NOTE, INFO_SHEET
from web.http import CSRF_FIELD

from conftest import DISTRICT, OTHER_DISTRICT, QUARTERS

Q = QUARTERS[-1]


def url(district: str) -> str:
    return f"/workbooks/{Q}/{quote(district)}.xlsx"


def cells(data: bytes) -> tuple[list[str], list[str]]:
    """(every cell text, the flag ids) of a workbook."""
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    texts, ids = [], []
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        texts += [str(v) for row in rows for v in row if v is not None]
        if ws.title != INFO_SHEET and len(rows) > 1:
            col = list(rows[1]).index(COL_FLAG_ID)
            ids += [r[col] for r in rows[2:] if r[col]]
    return texts, ids


def fill(data: bytes, decisions: dict[str, tuple[str, str]]) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    for ws in wb.worksheets:
        if ws.title == INFO_SHEET:
            continue
        col = {c.value: c.column for c in ws[2]}
        for r in range(3, ws.max_row + 1):
            fid = ws.cell(r, col[COL_FLAG_ID]).value
            if fid in decisions:
                ws.cell(r, col[COL_DECISION]).value, ws.cell(r, col[COL_NOTE]).value = decisions[fid]
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def district_flags(settings, district: str) -> set[str]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {r[0] for r in con.execute("SELECT flag_id FROM flags WHERE quarter = ? AND district = ?", [Q, district]).fetchall()}
    finally:
        con.close()


def reviews(settings) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute("SELECT flag_id, decision, note, reviewer, import_file FROM reviews ORDER BY rowid").fetchall()
    finally:
        con.close()


def upload(client, csrf: str, name: str, data: bytes):
    return client.post("/workbooks/upload", data={CSRF_FIELD: csrf}, files={"file": (name, data)})


def test_district_officer_downloads_only_their_districts_list_masked(client, as_officer, settings, app):
    as_officer("jiangxia")
    r = client.get(url(DISTRICT))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxml")
    texts, ids = cells(r.content)
    assert set(ids) == district_flags(settings, DISTRICT)
    assert not any(contains_full_id(t) for t in texts)
    assert client.get(url(OTHER_DISTRICT)).status_code == 404
    audit = app.state.workbench.store.rows("SELECT action, district, rows FROM inbox_audit WHERE action = 'export_workbook'")
    assert audit == [{"action": "export_workbook", "district": DISTRICT, "rows": len(ids)}]


def test_street_officer_has_no_district_workbooks(client, as_officer):
    as_officer("street")
    assert client.get("/workbooks").status_code == 404
    assert client.get(url(DISTRICT)).status_code == 404


def test_filled_list_uploaded_is_validated_and_recorded_with_a_row_report(client, as_officer, settings):
    csrf = as_officer("jiangxia")
    data = client.get(url(DISTRICT)).content
    ids = sorted(cells(data)[1])
    before = reviews(settings)
    filled = fill(data, {ids[0]: (DECISIONS[2], "入户核实无此情况"), ids[1]: ("随便写", None)})
    r = upload(client, csrf, f"核查名单_{Q}_{DISTRICT}.xlsx", filled)
    assert r.status_code == 200
    assert "写入核查结论 1 条" in r.text and "无法导入 1 行" in r.text and "不是可选值" in r.text
    after = reviews(settings)
    assert after[: len(before)] == before
    assert after[len(before):] == [(ids[0], DECISIONS[2], "入户核实无此情况", "江夏核查员", f"核查名单_{Q}_{DISTRICT}.xlsx")]
    again = upload(client, csrf, f"核查名单_{Q}_{DISTRICT}.xlsx", filled)  # the same file twice: nothing new
    assert "写入核查结论 0 条" in again.text and reviews(settings) == after
    assert ids[0] in client.get(f"/flags?quarter={Q}&status={DECISIONS[2]}").text


def test_another_districts_list_is_refused_whole(client, as_officer, settings):
    as_officer("hongshan")
    other = client.get(url(OTHER_DISTRICT)).content
    client.cookies.clear()
    csrf = as_officer("jiangxia")
    fid = sorted(cells(other)[1])[0]
    before = reviews(settings)
    r = upload(client, csrf, f"核查名单_{Q}_{OTHER_DISTRICT}.xlsx", fill(other, {fid: (DECISIONS[2], None)}))
    assert r.status_code == 400 and "未导入任何一行" in r.text
    assert reviews(settings) == before


def test_upload_while_a_run_writes_is_refused_plainly(client, as_officer, settings):
    csrf = as_officer("jiangxia")
    data = client.get(url(DISTRICT)).content
    fid = sorted(cells(data)[1])[0]
    lock = warehouse.WriterLock(settings.warehouse_path)
    lock.acquire(holder="run")
    try:
        r = upload(client, csrf, f"核查名单_{Q}_{DISTRICT}.xlsx", fill(data, {fid: (DECISIONS[2], None)}))
    finally:
        lock.release()
    assert r.status_code == 503 and "请等作业结束" in r.text


def test_not_a_workbook_is_refused(client, as_officer):
    csrf = as_officer("jiangxia")
    r = upload(client, csrf, "名单.xlsx", b"not a zip")
    assert r.status_code == 400 and "无法作为 Excel 工作簿" in r.text

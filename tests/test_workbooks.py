"""District verification workbooks: export, fill, import back into `reviews`."""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from matchers import warehouse
from matchers.reports.columns import COL_FLAG_ID, INFO_SHEET, workbook_path
from matchers.reports.labels import DECISIONS, FAMILIES
from matchers.reports.review_import import WorkbookError, import_reviews
from matchers.reports.workbooks import export_district_workbooks
from workbook_helpers import FLAGS, FULL_ID, Q, fill_workbook, make_warehouse, reviews_of


def test_each_district_gets_only_its_flags_with_masked_ids(exported):
    con, out, _ = exported
    assert set(out) == {"江夏区", "洪山区"}
    assert out["江夏区"].rows == 3 and out["洪山区"].rows == 1
    assert out["江夏区"].rules == {"M02": 1, "Q03": 1, "R01": 1}
    for district, w in out.items():
        assert w.path == workbook_path(Path(w.path).parents[1], Q, district)
        assert stat.S_IMODE(w.path.stat().st_mode) == 0o600
        wb = openpyxl.load_workbook(w.path)
        assert wb.sheetnames == [*FAMILIES.values(), INFO_SHEET]
        flag_ids, texts = set(), []
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                texts += [str(v) for v in row if v is not None]
            if ws.title != INFO_SHEET:
                header = [c.value for c in ws[2]]
                fid_col = header.index(COL_FLAG_ID)
                flag_ids |= {r[fid_col] for r in ws.iter_rows(min_row=3, values_only=True) if r[fid_col]}
                assert ws.freeze_panes == "E3"  # 序号, 姓名, 身份证号, 核查结论 frozen
                assert ws.auto_filter.ref is not None
                dv = [d for d in ws.data_validations.dataValidation if d.type == "list"]
                assert dv and all(x in dv[0].formula1 for x in DECISIONS)
        expected = {f[0] for f in FLAGS if f[3] == district}
        assert flag_ids == expected
        unmasked = [t for t in texts if FULL_ID.search(t)]
        assert unmasked == [], unmasked
        assert any("4201**********1234" in t for t in texts) or district != "江夏区"
    audit = con.execute("SELECT action, district, rows, actor FROM audit_log ORDER BY district").fetchall()
    assert audit == [("export_workbook", "江夏区", 3, "测试"), ("export_workbook", "洪山区", 1, "测试")]


def test_filled_workbook_round_trips_into_reviews(exported):
    con, out, _ = exported
    path = out["江夏区"].path
    fill_workbook(path, {
        "F-M02-1": ("属实已纳入救助", "已于8月纳入护理补贴", "陈敏"),
        "F-R01-2": ("不属实", None, None),
    })
    result = import_reviews(con, path, reviewer="导入员", now=datetime(2026, 9, 5, 10, 0))
    assert (result.applied, result.unchanged, result.empty, result.problems) == (2, 0, 1, [])
    rows = reviews_of(con)
    assert sorted((r[0], r[1], r[2], r[3], r[5], r[6]) for r in rows) == [
        ("F-M02-1", "属实已纳入救助", "已于8月纳入护理补贴", "陈敏", Q, path.name),
        ("F-R01-2", "不属实", None, "导入员", Q, path.name),
    ]
    assert all(r[7] >= 3 for r in rows)
    status = dict(con.execute("SELECT flag_id, review_status FROM flags").fetchall())
    assert status == {"F-M02-1": "属实已纳入救助", "F-R01-2": "不属实", "F-Q03-4": "待核查", "F-M02-3": "待核查"}
    # A re-export shows the decision as the last one and still scans clean.
    again = export_district_workbooks(con, Q, Path(path).parents[1])
    wb = openpyxl.load_workbook([w for w in again if w.district == "江夏区"][0].path)
    cells = [str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v]
    assert any(c.startswith("属实已纳入救助(2026-09-05)") for c in cells)


def test_bad_rows_are_reported_and_the_rest_applied(exported):
    con, out, _ = exported
    path = out["江夏区"].path
    fill_workbook(
        path,
        {"F-M02-1": ("属实待处理", "下周复查", "陈敏"), "F-Q03-4": ("已核实", None, None)},
        extra_rows=[("F-NOPE-9", "不属实"), ("F-M02-3", "不属实")],
    )
    result = import_reviews(con, path)
    assert result.applied == 1
    reasons = {p.flag_id: p.reason for p in result.problems}
    assert set(reasons) == {"F-Q03-4", "F-NOPE-9", "F-M02-3"}
    assert "不是可选值" in reasons["F-Q03-4"] and "已核实" in reasons["F-Q03-4"]
    assert "不存在" in reasons["F-NOPE-9"]
    assert "洪山区" in reasons["F-M02-3"] and "江夏区" in reasons["F-M02-3"]
    assert all(p.row >= 3 for p in result.problems)
    assert [r[0] for r in reviews_of(con)] == ["F-M02-1"]
    assert "无法导入 3 行" in result.summary()


def test_importing_twice_changes_nothing_and_reviews_are_never_changed(exported):
    con, out, _ = exported
    path = out["江夏区"].path
    fill_workbook(path, {"F-M02-1": ("属实待处理", "下周复查", "陈敏"), "F-R01-2": ("无法核实", "联系不上", "陈敏")})
    first = import_reviews(con, path, now=datetime(2026, 9, 1))
    before = reviews_of(con)
    second = import_reviews(con, path, now=datetime(2026, 9, 2))
    assert (first.applied, second.applied, second.unchanged) == (2, 0, 2)
    assert reviews_of(con) == before
    # A later decision is appended; the earlier review row stays exactly as it was.
    fill_workbook(path, {"F-M02-1": ("属实已纳入救助", "已纳入", "陈敏")})
    third = import_reviews(con, path, now=datetime(2026, 9, 3))
    assert third.applied == 1 and third.unchanged == 1
    after = reviews_of(con)
    assert after[: len(before)] == before and len(after) == len(before) + 1
    assert con.execute("SELECT review_status FROM flags WHERE flag_id = 'F-M02-1'").fetchall() == [("属实已纳入救助",)]
    actions = con.execute("SELECT action, rows FROM audit_log WHERE action = 'import_workbook' ORDER BY logged_at").fetchall()
    assert actions == [("import_workbook", 2), ("import_workbook", 0), ("import_workbook", 1)]


def test_conflicting_rows_for_one_flag_are_not_applied(exported):
    con, out, _ = exported
    path = out["江夏区"].path
    fill_workbook(path, {"F-M02-1": ("属实待处理", None, None)}, extra_rows=[("F-M02-1", "不属实")])
    result = import_reviews(con, path)
    assert result.applied == 0 and len(result.problems) == 2
    assert all("不一致" in p.reason for p in result.problems)
    assert reviews_of(con) == []


def test_a_file_that_is_not_a_workbook_is_refused(tmp_path, exported):
    con, _, _ = exported
    bad = tmp_path / "核查名单_2026Q3_江夏区.xlsx"
    bad.write_text("不是表格", encoding="utf-8")
    with pytest.raises(WorkbookError, match="无法作为 Excel 工作簿"):
        import_reviews(con, bad)
    assert reviews_of(con) == []


def test_command_line_import_prints_chinese_summary_and_problem_rows(exported, capsys):
    from pipelines.import_reviews import main

    con, out, tmp_path = exported
    path = out["江夏区"].path
    fill_workbook(path, {"F-M02-1": ("属实待处理", None, None), "F-R01-2": ("待定", None, None)})
    con.close()
    code = main([str(path), "--reviewer", "陈敏", "--warehouse", str(tmp_path / "wh.duckdb")])
    printed = capsys.readouterr().out
    assert code == 1
    assert "写入核查结论 1 条" in printed and "第" in printed and "“待定”不是可选值" in printed
    assert main([str(tmp_path / "没有这个文件.xlsx"), "--warehouse", str(tmp_path / "wh.duckdb")]) == 2
    assert "文件不存在" in capsys.readouterr().err
    con = warehouse.connect(tmp_path / "wh.duckdb")
    assert con.execute("SELECT flag_id, reviewer FROM reviews").fetchall() == [("F-M02-1", "陈敏")]
    con.close()


def test_workbooks_built_in_a_helper_process_are_the_same_bytes(tmp_path, monkeypatch):
    # A large export shares its districts with a helper process; forced here on the small one.
    from matchers.reports import workbooks

    con = make_warehouse(tmp_path)
    at = datetime(2026, 11, 29, 9, 30)
    serial = {w.district: w.sha256 for w in export_district_workbooks(con, Q, tmp_path / "a", actor="测试", now=at)}
    monkeypatch.setattr(workbooks, "PARALLEL_MIN_ROWS", 0)
    monkeypatch.setattr(workbooks.os, "cpu_count", lambda: 2)
    calls = []
    real = workbooks.subprocess.run
    monkeypatch.setattr(workbooks.subprocess, "run", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    parallel = {w.district: w.sha256 for w in export_district_workbooks(con, Q, tmp_path / "b", actor="测试", now=at)}
    con.close()
    assert len(calls) == 1
    assert parallel == serial and len(serial) == 2


def test_a_district_whose_content_did_not_change_keeps_its_file(tmp_path):
    # A nightly refresh re-exports; only the district whose flags or decisions changed is rebuilt.
    con = make_warehouse(tmp_path)
    first = {w.district: w for w in export_district_workbooks(con, Q, tmp_path / "x", actor="测试")}
    assert not any(w.unchanged for w in first.values())
    con.execute("UPDATE flags SET reason = reason || '。' WHERE flag_id = 'F-M02-3'").fetchall()  # 洪山区
    second = {w.district: w for w in export_district_workbooks(con, Q, tmp_path / "x", actor="测试")}
    assert second["江夏区"].unchanged and second["江夏区"].sha256 == first["江夏区"].sha256
    assert not second["洪山区"].unchanged and second["洪山区"].sha256 != first["洪山区"].sha256
    # a file changed on disk since (someone opened and saved it) is written again
    first["江夏区"].path.write_bytes(first["江夏区"].path.read_bytes() + b"\0")
    third = {w.district: w for w in export_district_workbooks(con, Q, tmp_path / "x", actor="测试")}
    assert not third["江夏区"].unchanged and third["洪山区"].unchanged
    logged = con.execute(
        "SELECT count(*) FROM audit_log WHERE action = 'export_workbook' AND district = '江夏区'"
    ).fetchone()[0]
    con.close()
    assert logged == 3  # every export is audited, kept or rebuilt


def _export(con, root: Path, **kw) -> dict:
    return {w.district: w for w in export_district_workbooks(con, Q, root, actor="测试", **kw)}


def _file_state(out: dict) -> dict:
    """district → (inode, mtime_ns): a file written again gets a new inode (atomic replace)."""
    return {d: (w.path.stat().st_ino, w.path.stat().st_mtime_ns) for d, w in out.items()}


@pytest.fixture
def built(monkeypatch):
    """The districts whose workbook is built (rows fetched and laid out), per export."""
    from matchers.reports import workbooks

    calls: list[str] = []
    real = workbooks._build_workbook
    monkeypatch.setattr(
        workbooks, "_build_workbook", lambda quarter, district, rows, now: calls.append(district) or real(
            quarter, district, rows, now)
    )
    return calls


def test_an_export_with_nothing_changed_keeps_every_file_without_building_any(tmp_path, built):
    con = make_warehouse(tmp_path)
    first = _export(con, tmp_path / "x")
    before = _file_state(first)
    assert sorted(built) == ["江夏区", "洪山区"]
    built.clear()
    second = _export(con, tmp_path / "x", now=datetime(2026, 12, 1, 2, 0))
    assert built == []
    assert all(w.unchanged for w in second.values())
    assert _file_state(second) == before
    assert {d: (w.rows, w.rules, w.sha256, w.content) for d, w in second.items()} == {
        d: (w.rows, w.rules, w.sha256, w.content) for d, w in first.items()
    }
    details = con.execute(
        "SELECT district, rows, details->>'$.unchanged', details->'$.rules' FROM audit_log"
        " WHERE action = 'export_workbook' AND logged_at = ? ORDER BY district",
        [datetime(2026, 12, 1, 2, 0)],
    ).fetchall()
    con.close()
    assert [(d, n, u) for d, n, u, _ in details] == [("江夏区", 3, "true"), ("洪山区", 1, "true")]
    assert json.loads(details[0][3]) == {"M02": 1, "Q03": 1, "R01": 1}


def test_a_kept_file_does_not_depend_on_the_export_clock(tmp_path, built):
    # The audit rows say which content each file was written from; their times do not matter
    # (an export run with an earlier `now`, a clock set back; all after the quarter's deadline).
    con = make_warehouse(tmp_path)
    _export(con, tmp_path / "x", now=datetime(2026, 12, 1, 2, 0))
    built.clear()
    again = _export(con, tmp_path / "x", now=datetime(2026, 10, 1, 2, 0))
    con.execute("UPDATE flags SET reason = reason || '。' WHERE flag_id = 'F-M02-3'").fetchall()
    third = _export(con, tmp_path / "x", now=datetime(2026, 9, 20, 2, 0))
    con.close()
    assert all(w.unchanged for w in again.values())
    assert built == ["洪山区"] and third["江夏区"].unchanged and not third["洪山区"].unchanged


# What a workbook shows, changed one at a time in 洪山区 (flag F-M02-3, person P3): each rebuilds
# 洪山区 alone.
HONGSHAN_CHANGES = {
    "reason": "UPDATE flags SET reason = reason || '。' WHERE flag_id = 'F-M02-3'",
    "evidence": "UPDATE flags SET evidence = '[{\"source\": \"assistance\", \"source_row\": 9}]' WHERE flag_id = 'F-M02-3'",
    "first_seen": "UPDATE flags SET first_seen = '2026Q1' WHERE flag_id = 'F-M02-3'",
    "rule_code": "UPDATE flags SET rule_code = 'M01' WHERE flag_id = 'F-M02-3'",
    "name": "UPDATE persons SET name = '张玮' WHERE person_id = 'P3'",
    "id_number": "UPDATE persons SET id_number = '420111196505053457' WHERE person_id = 'P3'",
    "street": "UPDATE source_records SET street = '关山街道' WHERE person_id = 'P3'",
    "community": "UPDATE source_records SET community = NULL WHERE person_id = 'P3'",
    "new_flag": "INSERT INTO flags (quarter, flag_id, rule_code, person_id, district, reason, first_seen, review_status)"
                " VALUES ('2026Q3', 'F-M03-3', 'M03', 'P3', '洪山区', '新的核查原因', '2026Q3', '待核查')",
    "flag_gone": "DELETE FROM flags WHERE flag_id = 'F-M02-3'",
}


@pytest.mark.parametrize("change", sorted(HONGSHAN_CHANGES))
def test_a_change_to_what_one_district_shows_rebuilds_that_district_alone(tmp_path, built, change):
    con = make_warehouse(tmp_path)
    first = _export(con, tmp_path / "x")
    before = _file_state(first)
    built.clear()
    con.execute(HONGSHAN_CHANGES[change]).fetchall()
    at = datetime(2026, 12, 1, 2, 0)
    second = _export(con, tmp_path / "x", now=at)
    assert built == (["洪山区"] if change != "flag_gone" else [])
    assert second["江夏区"].unchanged and _file_state(second)["江夏区"] == before["江夏区"]
    if change == "flag_gone":  # 洪山区 has no flag left: its workbook is removed
        assert set(second) == {"江夏区"} and not first["洪山区"].path.exists()
    else:
        assert not second["洪山区"].unchanged and second["洪山区"].content != first["洪山区"].content
        assert _file_state(second)["洪山区"] != before["洪山区"]
    # the rebuilt workbook is exactly what a first export of the changed warehouse writes
    fresh = _export(con, tmp_path / "y", now=at)
    con.close()
    assert set(fresh) == set(second)
    if change != "flag_gone":
        assert fresh["洪山区"].path.read_bytes() == second["洪山区"].path.read_bytes()


def test_a_flag_moving_to_another_district_rebuilds_both(tmp_path, built):
    con = make_warehouse(tmp_path)
    _export(con, tmp_path / "x")
    built.clear()
    con.execute("UPDATE flags SET district = '洪山区' WHERE flag_id = 'F-Q03-4'").fetchall()
    second = _export(con, tmp_path / "x")
    con.close()
    assert sorted(built) == ["江夏区", "洪山区"]
    assert (second["江夏区"].rows, second["洪山区"].rows) == (2, 2)


def _filled_copy(path: Path, folder: Path, decisions: dict) -> Path:
    """A filled copy of an exported workbook, as an officer sends it back (the export stays as it was)."""
    folder.mkdir(exist_ok=True)
    copy = folder / path.name
    copy.write_bytes(path.read_bytes())
    fill_workbook(copy, decisions)
    return copy


def test_an_imported_review_rebuilds_its_district_workbook(exported, built):
    con, out, tmp_path = exported
    before = _file_state(out)
    back = _filled_copy(out["江夏区"].path, tmp_path / "back", {"F-M02-1": ("属实待处理", "下周复查", "陈敏")})
    assert import_reviews(con, back, now=datetime(2026, 9, 5, 10, 0)).applied == 1
    again = _export(con, tmp_path / "exports")
    assert built == ["江夏区"]
    assert not again["江夏区"].unchanged and again["洪山区"].unchanged
    assert _file_state(again)["洪山区"] == before["洪山区"]
    wb = openpyxl.load_workbook(again["江夏区"].path)
    cells = [str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v]
    assert "属实待处理(2026-09-05)" in cells
    # a later review with the same decision and only a new note, even at the same time, rebuilds it
    built.clear()
    back = _filled_copy(again["江夏区"].path, tmp_path / "back2", {"F-M02-1": ("属实待处理", "已入户复查", "陈敏")})
    assert import_reviews(con, back, now=datetime(2026, 9, 5, 10, 0)).applied == 1
    third = _export(con, tmp_path / "exports")
    assert built == ["江夏区"] and not third["江夏区"].unchanged and third["洪山区"].unchanged
    # with nothing new, nothing is built
    built.clear()
    assert all(w.unchanged for w in _export(con, tmp_path / "exports").values()) and built == []


def test_a_workbook_deleted_from_the_folder_is_written_again(tmp_path, built):
    con = make_warehouse(tmp_path)
    at = datetime(2026, 12, 1, 2, 0)
    first = _export(con, tmp_path / "x", now=at)
    first["江夏区"].path.unlink()
    built.clear()
    second = _export(con, tmp_path / "x", now=at)
    con.close()
    assert built == ["江夏区"] and second["江夏区"].sha256 == first["江夏区"].sha256
    assert second["江夏区"].path.is_file() and second["洪山区"].unchanged


# ---- cell texts made column by column ------------------------------------------------------------
# The per-row texts every workbook showed before the cells were made column by column in polars:
# Awkward values a warehouse could hold: every evidence shape, nulls, IDs in free text, odd dates.
def _ev(*items, **dumps):
    return json.dumps(list(items), **dumps)


AWKWARD_EVIDENCE = [
    None,
    "",
    "[]",
    '[{"source":"disability","source_file":"d.csv","source_row":3}]',  # the warehouse's own form
    _ev({"source": "poverty", "source_file": "p.csv", "source_row": 7},
        {"source": "housing", "source_file": "h.xlsx", "source_row": 12},
        {"source": "medical", "source_file": "m.csv", "source_row": 0},
        {"source": None, "source_file": None, "source_row": None},
        {"source": "unknown_dept", "source_file": "", "source_row": -2}),
    _ev({"source": "assistance", "source_file": "学籍号G420115201003037890.csv", "source_row": 5}),
    _ev({"source": "education", "source_file": "420115198001011234.csv", "source_row": 123456789012345678}),
    _ev({"source": "education", "source_file": "e.csv", "source_row": 12345678901234567890}),  # beyond Int64
    json.dumps({"rows": [{"source": "disability", "source_file": "d.csv", "source_row": 1}]}),  # a dict
    json.dumps({"source": "disability", "source_file": "d.csv", "source_row": 2}),
    json.dumps({"evidence": [{"source": "poverty", "source_row": 4}]}),
    "not json 420106199001011234",  # invalid JSON: masked as text
    '[{"source": "assistance", "source_row": 9}]',  # a key missing
    '[{"source_row": 9, "source": "assistance", "source_file": "a.csv"}]',  # other key order
    '[{"source":"assistance","source_file":"a.csv","source_row":9,"extra":[1]}]',
    '[{"source":"assistance","source_file":"a\\u00e9\\".csv","source_row":9}]',  # escapes
    '[{"source":"assistance","source_file":"a.csv","source_row":9.0}]',
    '[{"source":"assistance","source_file":"a.csv","source_row":"9"}]',
    '[{"source":"assistance","source_file":"a.csv","source_row":true}]',
    '[{"source":1,"source_file":2,"source_row":3}]',
    '[1, "x", null, {"source":"poverty","source_file":"p.csv","source_row":1}]',
    '[{"source":"poverty","source_file":"p.csv","source_row":01}]',  # invalid JSON (leading zero)
    '[{"source":"poverty","source_file":"p\x01.csv","source_row":1}]',  # control character
    "null", "5", '"text 420106199001011234"', "[", " [ ] ",
    _ev({"source": "disability", "source_file": "d.csv", "source_row": 3}, indent=2),
]


def _awkward_frame():
    import polars as pl

    n = len(AWKWARD_EVIDENCE)
    codes = ["M01", "M02", "R01", "Q03", "M99", None, "", "R04"]
    reasons = [None, "", "王秀英 420115198001011234 的护理补贴", "证件 42011519751212567x 与 420111196505053", "12345678901234567890 长号",
               "学籍号G420115201003037890", "普通原因"]
    ids = [None, "", "1234", "123456789", "420115198001011234", "42011519751212567X", "证件号码甲乙丙丁戊己庚"]
    decisions = [None, "", "属实待处理", "不属实", "无法核实"]
    times = [None, datetime(2026, 8, 3, 9, 15), datetime(999, 1, 2), datetime(2026, 12, 31, 23, 59)]
    return pl.DataFrame(
        {
            "flag_id": [None if i == 3 else f"F{i}" for i in range(n)],
            "rule_code": [codes[i % len(codes)] for i in range(n)],
            "street": [None if i % 3 == 0 else ("" if i % 3 == 1 else "纸坊街道") for i in range(n)],
            "community": [None if i % 2 else "大桥社区" for i in range(n)],
            "name": [None if i % 4 == 0 else "王秀英" for i in range(n)],
            "id_number": [ids[i % len(ids)] for i in range(n)],
            "reason": [reasons[i % len(reasons)] for i in range(n)],
            "evidence": AWKWARD_EVIDENCE,
            "first_seen": [None if i % 5 == 0 else "2026Q2" for i in range(n)],
            "last_decision": [decisions[i % len(decisions)] for i in range(n)],
            "last_decided_at": [times[(i // 2) % len(times)] for i in range(n)],
        },
        schema_overrides={"last_decided_at": pl.Datetime("us")},
    ).with_columns(family=pl.col("rule_code").str.slice(0, 1).fill_null("?"))


def test_cell_texts_of_awkward_values_are_masked_texts_one_per_row():
    import polars as pl

    from matchers.reports.cell_texts import VALUE_HEADERS, sheet_values

    rows = _awkward_frame()
    columns = dict(zip(VALUE_HEADERS, sheet_values(rows)))
    assert all(col.dtype == pl.String and col.len() == rows.height and col.null_count() == 0
               for col in columns.values())
    assert not [v for col in columns.values() for v in col.to_list() if FULL_ID.search(v)]
    evidence = columns["数据来源"].to_list()
    assert evidence[:4] == ["", "", "", "残联持证残疾人 d.csv 第3行"]
    assert evidence[AWKWARD_EVIDENCE.index("not json 420106199001011234")] == "not json 4201**********1234"
    assert evidence[-1] == evidence[3]  # the same list, indented
    assert evidence[4] == "扶贫建档立卡/监测对象 p.csv 第7行;住建住房安全与住房救助 h.xlsx 第12行;医保结算明细;unknown_dept  第-2行"
    decided = dict(zip(rows.get_column("last_decided_at").to_list(), columns["上次核查结论"].to_list()))
    assert [v for k, v in decided.items() if k == datetime(2026, 8, 3, 9, 15)][0].endswith("(2026-08-03)")
    assert columns["规则名称"].to_list()[1] == "重度残疾人护理补贴未落实"
    # a frame whose columns are all NULL (polars dtype Null) and an empty frame
    nulls = pl.DataFrame({c: [None] * 3 for c in rows.columns})
    assert [col.to_list() for col in sheet_values(nulls)][-2] == ["待核查"] * 3
    assert all(col.len() == 0 for col in sheet_values(rows.clear()))


def test_workbook_cells_read_back_as_the_cell_texts(monkeypatch):
    import io

    from matchers.reports import workbooks
    from matchers.reports.cell_texts import VALUE_HEADERS, sheet_values
    from matchers.reports.columns import COL_SEQ, HEADERS

    rows = _awkward_frame()
    built = workbooks._build_workbook(Q, "江夏区", rows, datetime(2026, 9, 1, 8, 30))
    texts = dict(zip(VALUE_HEADERS, sheet_values(rows)))
    wb = openpyxl.load_workbook(io.BytesIO(built), read_only=True)
    for family, name in FAMILIES.items():
        at = [i for i, f in enumerate(rows.get_column("family").to_list()) if f == family]
        shown = list(wb[name].iter_rows(min_row=3, values_only=True))
        assert len(shown) == len(at)
        for n, (i, row) in enumerate(zip(at, shown), start=1):
            cells = dict(zip(HEADERS, row))
            assert cells[COL_SEQ] == n
            # openpyxl reads an empty text cell as None
            assert {h: cells[h] or "" for h in VALUE_HEADERS} == {h: texts[h][i] for h in VALUE_HEADERS}


def _evidence_strategy():
    from hypothesis import strategies as st

    texts = st.text(alphabet=st.sampled_from('ab"\\é{}[],: 0123456789X\n\x01残联'), max_size=20)
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10**19), st.floats(allow_nan=False), texts,
                        st.sampled_from(["disability", "poverty", "420115198001011234", "d.csv"]))
    item = st.one_of(
        st.fixed_dictionaries({"source": scalars, "source_file": scalars, "source_row": scalars}),
        st.dictionaries(st.sampled_from(["source", "source_file", "source_row", "rows", "x"]), scalars, max_size=4),
        scalars,
    )
    seps = st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")])
    as_json = st.tuples(st.one_of(st.lists(item, max_size=4), item), seps, st.booleans()).map(
        lambda t: json.dumps(t[0], separators=t[1], ensure_ascii=t[2])
    )
    return st.one_of(st.none(), texts, as_json)


def test_evidence_of_any_shape_gives_a_masked_text_each_distinct_value_read_once():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    import polars as pl
    from matchers.reports.cell_texts import _evidence_texts, evidence_text

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(_evidence_strategy(), min_size=1, max_size=8))
    def check(values):
        texts = _evidence_texts(pl.Series(values, dtype=pl.String)).to_list()
        assert texts == [evidence_text(v) for v in values]
        assert not [t for t in texts if FULL_ID.search(t)]

    check()


# ---- hostile values from a department ---------------------------------------------------------------
HOSTILE_DISTRICT = "=cmd|' /C calc'!A0"
HOSTILE_VALUES = {
    "name": "杨凡ID420106199001011234",
    "street": "纸坊街道(联系人420106199001011234)",
    "community": '=HYPERLINK("http://evil.example","点我")',
}


def _written_xml_and_names(root: Path) -> tuple[list[str], list[str]]:
    """(every XML member of every workbook under `root`, every file name under it)."""
    import zipfile

    texts, names = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        names.append(path.name)
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                texts += [z.read(m).decode("utf-8") for m in z.namelist() if m.endswith((".xml", ".rels"))]
    return texts, names


def test_ids_and_formulas_typed_by_a_department_never_leave_as_ids_or_formulas(tmp_path):
    from matchers.contract import WUHAN_DISTRICTS
    from matchers.privacy import contains_full_id
    from matchers.reports.labels import UNASSIGNED_DISTRICT
    from matchers.reports.quarterly import write_quarterly_reports

    con = make_warehouse(tmp_path)
    con.execute(
        "UPDATE source_records SET name_raw = $name, street = $street, community = $community WHERE person_id = 'P1'",
        HOSTILE_VALUES,
    ).fetchall()
    con.execute("UPDATE persons SET name = $name WHERE person_id = 'P1'", {"name": HOSTILE_VALUES["name"]}).fetchall()
    con.execute("UPDATE source_records SET district = ? WHERE person_id = 'P3'", [HOSTILE_DISTRICT]).fetchall()
    con.execute("UPDATE flags SET district = ? WHERE person_id = 'P3'", [HOSTILE_DISTRICT]).fetchall()
    exports = tmp_path / "exports"
    workbooks = export_district_workbooks(con, Q, exports, actor="测试")
    reports = write_quarterly_reports(con, Q, exports, actor="测试")
    con.close()

    known = {*WUHAN_DISTRICTS, UNASSIGNED_DISTRICT}
    assert {w.district for w in workbooks} == {"江夏区", UNASSIGNED_DISTRICT}
    assert {r.scope for r in reports} - {"全市"} <= known
    texts, names = _written_xml_and_names(exports)
    assert len(names) == 2 + 2 * len(reports) and texts
    assert not [n for n in names if "cmd" in n or "calc" in n]
    assert not [t for t in texts if re.search(r"<f[ >]", t)]
    assert not [t for t in texts if contains_full_id(t)]
    # the formula-looking values are there, as text
    jiangxia = openpyxl.load_workbook(workbooks[0].path if workbooks[0].district == "江夏区" else workbooks[1].path)
    values = {c.value for ws in jiangxia.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert HOSTILE_VALUES["community"] in values and "纸坊街道(联系人4201**********1234)" in values


# ---- a full exports disk, and districts that no longer have flags ----------------------------------
def _disk_full_after(monkeypatch, files_written: int) -> None:
    """Every export file after the first `files_written` fails as on a full disk."""
    import errno
    import os as _os

    from matchers.reports import _io

    calls = {"n": 0}
    real_open = _os.open

    def full_disk_open(path, flags, mode=0o777):
        calls["n"] += 1
        if calls["n"] > files_written:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_open(path, flags, mode)

    monkeypatch.setattr(_io.os, "open", full_disk_open)


def test_a_full_exports_disk_gives_a_chinese_message_and_the_next_export_repeats_it(tmp_path, monkeypatch):
    from matchers.reports._io import ExportError

    con = make_warehouse(tmp_path)
    exports = tmp_path / "exports"
    with monkeypatch.context() as m:
        _disk_full_after(m, files_written=1)
        with pytest.raises(ExportError) as failed:
            export_district_workbooks(con, Q, exports, actor="测试")
    message = str(failed.value)
    assert str(exports / Q) in message and "磁盘空间已满" in message and "make run" in message
    assert "No space" not in message and "OSError" not in message
    assert not list((exports / Q).glob(".*.tmp"))  # no partial file left
    again = export_district_workbooks(con, Q, exports, actor="测试")
    assert {w.district for w in again} == {"江夏区", "洪山区"} and all(w.path.is_file() for w in again)
    assert all(w.retried == message for w in again)
    assert all(w.retried is None for w in export_district_workbooks(con, Q, exports, actor="测试"))
    con.close()


def test_the_workbook_of_a_district_that_no_longer_has_flags_is_removed(tmp_path):
    con = make_warehouse(tmp_path)
    exports = tmp_path / "exports"
    first = {w.district: w.path for w in export_district_workbooks(con, Q, exports, actor="测试")}
    con.execute("DELETE FROM flags WHERE district = '洪山区'").fetchall()
    second = export_district_workbooks(con, Q, exports, actor="测试")
    con.close()
    assert [w.district for w in second] == ["江夏区"]
    assert not first["洪山区"].exists() and first["江夏区"].is_file()
    assert sorted(p.name for p in (exports / Q).iterdir()) == [first["江夏区"].name]


# ---- paper and laptop ---------------------------------------------------------------------------------
def test_district_sheets_print_landscape_a4_with_names_and_decision_frozen_and_numbered_cells(tmp_path):
    import zipfile

    con = make_warehouse(tmp_path)
    con.execute(  # a second 江夏区 flag on the 民生 sheet: its row is spliced, not written by xlsxwriter
        "INSERT INTO flags (quarter, flag_id, rule_code, person_id, district, reason, evidence, first_seen,"
        " review_status) VALUES (?, 'F-M02-5', 'M02', 'P2', '江夏区', '李建国 残疾等级二级', '[]', ?, '待核查')",
        [Q, Q],
    ).fetchall()
    [jiangxia] = [w for w in export_district_workbooks(con, Q, tmp_path / "x", actor="测试",
                                                        now=datetime(2026, 9, 1)) if w.district == "江夏区"]
    con.close()
    with zipfile.ZipFile(jiangxia.path) as z:
        first = z.read("xl/worksheets/sheet1.xml").decode()
        book = z.read("xl/workbook.xml").decode()
    assert 'paperSize="9"' in first and 'orientation="landscape"' in first and 'fitToHeight="0"' in first
    assert '<pageSetUpPr fitToPage="1"/>' in first
    assert "!$1:$2</definedName>" in book  # title and header rows on every page
    # 序号, 姓名, 身份证号, 核查结论 frozen: the name and the decision stay in sight together
    assert re.search(r'<pane xSplit="4" ySplit="2" topLeftCell="E3"[^>]*state="frozen"/>', first)
    assert re.search(r'<c r="A3" s="\d+"><v>1</v></c>', first) and re.search(r'<c r="A4" s="\d+"><v>2</v></c>', first)
    assert "<f>" not in first
    # rows as tall as their longest wrapped text, the spliced ones as the first
    assert re.search(r'<row r="3" spans="1:15" ht="[\d.]+" customHeight="1">', first)
    assert re.search(r'<row r="4" spans="1:15" ht="[\d.]+" customHeight="1">', first)
    wb = openpyxl.load_workbook(jiangxia.path)
    ws = wb.worksheets[0]
    assert [c.value for c in ws[2]][:4] == ["序号", "姓名", "身份证号", "核查结论"]
    assert ws["A4"].value == 2 and ws["A4"].number_format == "0"
    assert "请于2026年09月12日前" in ws["A1"].value


def test_a_list_made_after_the_quarters_deadline_says_the_date_has_passed(tmp_path):
    con = make_warehouse(tmp_path)
    [w, *_] = export_district_workbooks(con, Q, tmp_path / "x", actor="测试", now=datetime(2026, 10, 8))
    con.close()
    wb = openpyxl.load_workbook(w.path)
    assert "反馈截止日期2026年09月12日已过" in wb.worksheets[0]["A1"].value
    assert wb.worksheets[0]["A1"].font.color.rgb.endswith("C00000")
    info = {r[0]: r[1] for r in wb[INFO_SHEET].iter_rows(values_only=True)}
    assert info["反馈截止"].startswith("2026年09月12日(已过期)")

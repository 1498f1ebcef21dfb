"""Importing returned verification workbooks: hostile names, edited identity, broken files."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import openpyxl
import pytest

from matchers import warehouse
from matchers.reports.columns import COL_DECISION, COL_FLAG_ID, COL_NOTE, INFO_SHEET
from matchers.reports.review_import import (
    PROBLEMS_LISTED,
    XLS_ADVICE,
    WorkbookError,
    clean_reviewer,
    import_reviews,
    read_returned_workbook,
    record_decisions,
)
from workbook_helpers import Q, fill_workbook, reviews_of

ROOT = Path(__file__).resolve().parents[1]
# shell quoting broken out of, and a make function: neither may run
HOSTILE_REVIEWER = '王五"; touch {canary}; echo "$(shell touch {canary})'


def _returned(src: Path, folder: Path, name: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / (name or src.name)
    shutil.copyfile(src, copy)
    return copy


def _sheet_with(path: Path, flag_id: str):
    """(workbook, sheet, header column map, row number) of the row holding `flag_id`."""
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        if ws.title == INFO_SHEET:
            continue
        col = {c.value: c.column for c in ws[2]}
        for r in range(3, ws.max_row + 1):
            if ws.cell(r, col[COL_FLAG_ID]).value == flag_id:
                return wb, ws, col, r
    raise AssertionError(flag_id)


def test_make_import_passes_hostile_file_and_reviewer_names_to_python_untouched(exported):
    con, out, tmp_path = exported
    canary = tmp_path / "executed"
    # a file name cannot hold "/": its commands would create `executed_by_name` where they run
    name = f"核查名单_{Q}_江夏区`touch executed_by_name`$(touch executed_by_name)'\";touch executed_by_name.xlsx"
    back = _returned(out["江夏区"].path, tmp_path / "back", name)
    fill_workbook(back, {"F-M02-1": ("属实待处理", "入户复查", None)})
    con.close()
    reviewer = HOSTILE_REVIEWER.format(canary=canary)
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"), "MAKEFLAGS": ""}
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "import-reviews", f"FILE={back}", f"REVIEWER={reviewer}"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "写入核查结论 1 条" in done.stdout
    assert not canary.exists()
    assert not [p for d in (ROOT, tmp_path, back.parent, Path.cwd()) for p in d.glob("executed_by_name*")]
    con = warehouse.connect(tmp_path / "wh.duckdb")
    assert [(r[0], r[3], r[6]) for r in reviews_of(con)] == [("F-M02-1", reviewer, back.name)]
    con.close()


def test_a_partial_import_through_make_ends_with_its_chinese_summary_not_a_make_error(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    fill_workbook(back, {"F-M02-1": ("属实待处理", None, None), "F-R01-2": ("待定", None, None)})
    con.close()
    env = {**os.environ, "WAREHOUSE_PATH": str(tmp_path / "wh.duckdb"), "MAKEFLAGS": ""}
    done = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "import-reviews", f"FILE={back}", "REVIEWER=陈敏"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "写入核查结论 1 条" in done.stdout and "无法导入 1 行" in done.stdout
    assert "make:" not in done.stdout + done.stderr and "Error" not in done.stdout + done.stderr


def test_control_characters_are_stripped_from_reviewer_names(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    fill_workbook(back, {"F-M02-1": ("属实待处理", None, "陈\u200b敏\u202e"), "F-R01-2": ("不属实", None, None)})
    import_reviews(con, back, reviewer="导入\x1b[31m员\x07\n")
    assert sorted((r[0], r[3]) for r in reviews_of(con)) == [("F-M02-1", "陈敏"), ("F-R01-2", "导入[31m员")]
    assert clean_reviewer(" \t\x00 ") is None


def test_the_district_comes_from_the_export_not_from_an_edited_cell(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    wb = openpyxl.load_workbook(back)
    wb[INFO_SHEET]["B2"] = "洪山区"  # the 区 line of 填写说明
    ws = wb.worksheets[0]
    col = {c.value: c.column for c in ws[2]}
    r = ws.max_row + 1
    ws.cell(r, col[COL_FLAG_ID]).value = "F-M02-3"  # 洪山区's flag pasted in
    ws.cell(r, col[COL_DECISION]).value = "不属实"
    wb.save(back)
    fill_workbook(back, {"F-M02-1": ("属实待处理", None, "陈敏")})
    report = import_reviews(con, back)
    assert report.district == "江夏区"
    assert [r[0] for r in reviews_of(con)] == ["F-M02-1"]
    assert [(p.flag_id, "洪山区" in p.reason) for p in report.problems] == [("F-M02-3", True)]


def test_a_renamed_file_is_matched_to_its_export_by_its_flags(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back", "江夏区反馈(最终版).xlsx")
    fill_workbook(back, {"F-R01-2": ("无法核实", "联系不上", "陈敏")})
    report = import_reviews(con, back)
    assert (report.quarter, report.district, report.applied, report.problems) == (Q, "江夏区", 1, [])


def test_a_hand_made_file_that_was_never_exported_is_refused_row_by_row(exported):
    con, _, tmp_path = exported
    path = tmp_path / f"核查名单_{Q}_江岸区.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([COL_FLAG_ID, COL_DECISION])
    ws.append(["F-XXX-1", "不属实"])
    ws.append(["F-XXX-2", "属实待处理"])
    wb.save(path)
    report = import_reviews(con, path)
    assert report.applied == 0 and len(report.problems) == 2
    assert all("不是本系统导出" in p.reason for p in report.problems)
    assert reviews_of(con) == []


def test_a_note_without_a_decision_is_reported_not_dropped(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    fill_workbook(back, {"F-M02-1": (None, "已入户,待领导审核", "陈敏")})
    report = import_reviews(con, back)
    assert report.applied == 0 and report.empty == 2
    [problem] = report.problems
    assert problem.flag_id == "F-M02-1" and "没有选择核查结论" in problem.reason
    assert "没有选择核查结论" in report.summary()


def test_a_formula_decision_without_a_saved_value_is_reported(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    wb, ws, col, r = _sheet_with(back, "F-M02-1")
    ws.cell(r, col[COL_DECISION]).value = '=IF(1=1,"不属实","")'  # openpyxl saves no cached value
    ws.cell(r, col[COL_NOTE]).value = "公式写的结论"
    wb.save(back)
    report = read_returned_workbook(con, back)
    assert [p.flag_id for p in report.problems] == ["F-M02-1"]
    assert "公式" in report.problems[0].reason
    assert record_decisions(con, report).applied == 0 and reviews_of(con) == []


def test_the_summary_lists_a_bounded_number_of_row_problems(exported):
    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back")
    extra = PROBLEMS_LISTED + 17
    fill_workbook(back, {}, extra_rows=[(f"F-NOPE-{i}", "不属实") for i in range(extra)])
    report = import_reviews(con, back)
    text = report.summary()
    assert len(report.problems) == extra
    assert text.count("\n  - 工作表") == PROBLEMS_LISTED
    assert "另有 17 行无法导入" in text


def _cli(tmp_path: Path, path: Path, capsys) -> tuple[int, str]:
    from pipelines.import_reviews import main

    code = main([str(path), "--warehouse", str(tmp_path / "wh.duckdb")])
    printed = capsys.readouterr()
    return code, printed.out + printed.err


@pytest.mark.parametrize("suffix", [".xls", ".xlsx"])  # an .xls renamed to .xlsx too
def test_an_xls_file_gets_advice_to_save_as_xlsx(exported, capsys, suffix):
    con, _, tmp_path = exported
    con.close()
    xls = tmp_path / f"核查名单_{Q}_江夏区{suffix}"
    xls.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512)  # an OLE2 (.xls) header
    code, text = _cli(tmp_path, xls, capsys)
    assert code == 2 and XLS_ADVICE in text and "Traceback" not in text


def test_a_workbook_with_broken_sheet_xml_gives_a_chinese_message_and_exit_2(exported, capsys):
    con, out, tmp_path = exported
    con.close()
    src = out["江夏区"].path
    broken = tmp_path / "back" / src.name
    broken.parent.mkdir()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(broken, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]  # cut in the middle of a tag
            zout.writestr(info, data)
    code, text = _cli(tmp_path, broken, capsys)
    assert code == 2 and "无法" in text and "Traceback" not in text and "Error" not in text


def test_a_missing_file_is_a_chinese_error(exported):
    con, _, tmp_path = exported
    with pytest.raises(WorkbookError, match="文件不存在"):
        read_returned_workbook(con, tmp_path / "没有这个文件.xlsx")


def test_an_id_in_a_returned_file_name_is_masked_in_every_message(exported, capsys):
    from matchers.privacy import contains_full_id

    con, out, tmp_path = exported
    back = _returned(out["江夏区"].path, tmp_path / "back", f"核查名单_{Q}_江夏区 联系人420106199001011234.xlsx")
    fill_workbook(back, {"F-M02-1": ("属实待处理", None, None)}, extra_rows=[("F-NOPE-1", "不属实")])
    con.close()
    code, text = _cli(tmp_path, back, capsys)
    assert code == 1 and "4201**********1234" in text and not contains_full_id(text)


def _with_sheet1(src: Path, dest: Path, sheet_xml: str) -> Path:
    """A copy of the workbook `src` whose first sheet is `sheet_xml`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = sheet_xml.encode() if info.filename == "xl/worksheets/sheet1.xml" else zin.read(info)
            zout.writestr(info.filename, data)
    return dest


def _sheet(dimension: str, rows: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="{dimension}"/><sheetData>'
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>{COL_FLAG_ID}</t></is></c>'
        f'<c r="B1" t="inlineStr"><is><t>{COL_DECISION}</t></is></c></row>{rows}</sheetData></worksheet>'
    )


def _peak_mb(func):
    import tracemalloc

    tracemalloc.start()
    try:
        result = func()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_returned_sheet_over_the_row_limit_is_refused_naming_the_limit_in_bounded_memory(exported, capsys,
                                                                                          monkeypatch):
    from matchers.reports import returned_rows

    con, out, tmp_path = exported
    monkeypatch.setattr(returned_rows, "MAX_IMPORT_ROWS", 20_000)
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>F-NOPE-{r}</t></is></c>'
                   f'<c r="B{r}" t="inlineStr"><is><t>不属实</t></is></c></row>' for r in range(2, 100_002))
    big = _with_sheet1(out["江夏区"].path, tmp_path / "back" / out["江夏区"].path.name, _sheet("A1:B100001", rows))
    del rows

    def refused():
        with pytest.raises(WorkbookError, match="超过 20000 行") as err:
            read_returned_workbook(con, big)
        return str(err.value)

    message, peak = _peak_mb(refused)
    assert peak < 200 and "导入上限" in message
    con.close()
    code, text = _cli(tmp_path, big, capsys)
    assert code == 2 and len(text) < 1_000  # one message, not a line per row
    con = warehouse.connect(tmp_path / "wh.duckdb")
    assert reviews_of(con) == []
    con.close()


def test_a_sparse_returned_sheet_costs_its_cells_not_its_claimed_dimension(exported):
    con, out, tmp_path = exported
    rows = ('<row r="2"><c r="A2" t="inlineStr"><is><t>F-M02-1</t></is></c>'
            '<c r="B2" t="inlineStr"><is><t>属实待处理</t></is></c>'
            '<c r="XFD2" t="inlineStr"><is><t>远处的单元格</t></is></c></row>'
            '<row r="10000"><c r="XFD10000"><v>1</v></c></row>')
    sparse = _with_sheet1(out["江夏区"].path, tmp_path / "back" / out["江夏区"].path.name,
                          _sheet("A1:XFD10000", rows))
    report, peak = _peak_mb(lambda: read_returned_workbook(con, sparse))
    assert peak < 100
    assert [(r.flag_id, r.decision) for r in report.ready] == [("F-M02-1", "属实待处理")]

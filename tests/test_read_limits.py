"""Reading is bounded: a sparse sheet costs what its cells cost (memory measured in this process,
not timed), limits come from the environment, and long cells within the limit load."""

from __future__ import annotations

import re
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import xlsxwriter

from matchers.extract_reader import ExtractFileError, read_extract_file
from matchers.read_limits import ReadLimits, read_limits
from tests.bad_inputs.make_corpus import GOOD, HEADER, csv_bytes

# Far under what the unbounded reader needed for these files (5 to 9 GB).
MEMORY_BOUND = 200 * 1024 * 1024
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _roll(path: Path, rows: int, far_cells: str | None) -> Path:
    """An assistance roll of `rows` members written as sheet XML; with `far_cells` "first", a
    stray cell in column XFD of the header row, with "every", in every row too; the sheet's
    dimension then claims A1:XFD<last row>."""
    lines = []
    for r in range(1, rows + 2):
        values = HEADER if r == 1 else [str(r), f"H{r}", *GOOD[r % len(GOOD)][2:]]
        cells = "".join(_cell(f"{chr(65 + c)}{r}", v) for c, v in enumerate(values))
        if far_cells == "every" or (far_cells == "first" and r == 1):
            cells += _cell(f"XFD{r}", "x")
        lines.append(f'<row r="{r}">{cells}</row>')
    width = "XFD" if far_cells else "L"
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<worksheet xmlns="{MAIN_NS}"><dimension ref="A1:{width}{rows + 1}"/><sheetData>'
        + "".join(lines) + "</sheetData></worksheet>"
    )
    template = path.with_suffix(".template.xlsx")
    wb = xlsxwriter.Workbook(template)
    wb.add_worksheet().write_string(0, 0, "占位")
    wb.close()
    with zipfile.ZipFile(template) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = sheet.encode("utf-8") if item.filename == "xl/worksheets/sheet1.xml" else zin.read(item.filename)
            zout.writestr(item, data)
    return path


def _peak_bytes(fn) -> tuple[object, int]:
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("far_cells", ["first", "every"])
def test_stray_cells_in_the_last_column_cost_no_memory_per_row(tmp_path, far_cells):
    path = _roll(tmp_path / "assistance.xlsx", 20_000, far_cells)
    f, peak = _peak_bytes(lambda: read_extract_file(path, "assistance"))
    assert f.rows.height == 20_000 and f.rows["household_id"][-1] == "H20001"
    assert peak < MEMORY_BOUND, peak


def test_a_dimension_claiming_the_whole_sheet_costs_nothing(tmp_path):
    small = _roll(tmp_path / "small.xlsx", 3, None)
    path = tmp_path / "assistance.xlsx"
    with zipfile.ZipFile(small) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension [^>]*/>", b'<dimension ref="A1:XFD1048576"/>', data)
            zout.writestr(item, data)
    assert b"XFD1048576" in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    assert path.stat().st_size < 10_000
    f, peak = _peak_bytes(lambda: read_extract_file(path, "assistance"))
    assert f.rows.height == 3 and peak < MEMORY_BOUND, peak


def test_limits_come_from_the_environment():
    assert read_limits({}) == ReadLimits()
    limits = read_limits({"EXTRACT_MAX_ROWS": "1_000", "EXTRACT_MAX_BYTES": "2,000,000"})
    assert (limits.max_rows, limits.max_bytes) == (1000, 2_000_000)
    assert limits.max_columns == ReadLimits().max_columns
    with pytest.raises(ValueError, match="EXTRACT_MAX_COLUMNS应为正整数"):
        read_limits({"EXTRACT_MAX_COLUMNS": "很多"})


def test_a_cell_over_the_old_csv_field_limit_loads(tmp_path):
    remark = "长" * 200_000  # the csv module's own limit is 131,072 characters
    path = tmp_path / "assistance.csv"
    path.write_bytes(csv_bytes([HEADER + ["备注"], GOOD[0] + [remark], GOOD[1]]))
    f = read_extract_file(path, "assistance")
    assert f.rows.height == 2 and f.rows["name"].to_list() == ["王秀英", "张伟"]


def test_a_long_cell_beyond_the_limit_names_row_and_column_not_the_header(tmp_path):
    path = tmp_path / "assistance.csv"
    rows = [HEADER, GOOD[0], GOOD[1][:4] + ["4" * 3000] + GOOD[1][5:]]
    path.write_bytes(csv_bytes(rows))
    with pytest.raises(ExtractFileError) as exc:
        read_extract_file(path, "assistance", ReadLimits(max_cell_chars=2000))
    assert "第3行第E列“身份证号”的单元格长3,000个字符" in str(exc.value)
    assert "表头" not in str(exc.value)


def test_csv_size_and_line_limits(tmp_path):
    path = tmp_path / "assistance.csv"
    path.write_bytes(csv_bytes([HEADER] + GOOD * 10))
    with pytest.raises(ExtractFileError, match="文件大小[0-9,]+字节,超过读取的大小上限1,000字节"):
        read_extract_file(path, "assistance", ReadLimits(max_bytes=1000))
    with pytest.raises(ExtractFileError, match="共有31行,超过读取的行数上限20行"):
        read_extract_file(path, "assistance", ReadLimits(max_rows=20))


def test_xlsx_row_limit_counts_sheet_rows(tmp_path):
    path = _roll(tmp_path / "assistance.xlsx", 50, None)
    with pytest.raises(ExtractFileError, match="工作表有第41行,超过读取的行数上限40行"):
        read_extract_file(path, "assistance", ReadLimits(max_rows=40))


def test_a_long_xlsx_cell_beyond_the_limit_names_data_row_and_column(tmp_path):
    path = _roll(tmp_path / "assistance.xlsx", 3, None)
    with pytest.raises(ExtractFileError, match="第2条数据第D列“姓名”的单元格长3个字符,超过读取的单元格长度上限2个字符"):
        read_extract_file(path, "assistance", ReadLimits(max_cell_chars=2))

"""The streaming XLSX cell reader gives exactly the cells openpyxl gives, on workbooks built to be
awkward: shared and inline strings, rich text, long numbers, floats, exponents, dates, booleans,
errors, cached and uncached formulas (shared ones too), merged cells, gaps, a banner. Rows are not
padded to the sheet's `<dimension>` (openpyxl's are), so grids are compared without trailing empty
cells and rows, against openpyxl reading the sheet without its dimension."""

import datetime as dt
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from openpyxl.cell.rich_text import CellRichText, TextBlock
from openpyxl.cell.text import InlineFont

from matchers.extract_reader import ExtractFileError, read_extract_file, read_xlsx_grid
from matchers.xlsx_cells import cell_text

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def trimmed(grid) -> list[list[str]]:
    """Rows without trailing empty cells, the grid without trailing empty rows."""
    rows = [list(row) for row in grid]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def _without_dimension(path: Path) -> Path:
    """The package with its first sheet's `<dimension>` removed (openpyxl then reads every row)."""
    out = path.with_name("nodim_" + path.name)
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<dimension [^>]*/>", b"", data)
            zout.writestr(item, data)
    return out


def openpyxl_reference(path: Path) -> tuple[list[list[str]], list[str]]:
    """The grid as openpyxl alone gives it, trimmed: cached values, then formula text where a
    formula has no cached value."""
    path = _without_dimension(path)
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    values = [list(row) for row in wb.worksheets[0].iter_rows(values_only=True)]
    wb.close()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    uncomputed = []
    for r, row in enumerate(wb.worksheets[0].iter_rows(values_only=True)):
        if r >= len(values):
            break
        for c, v in enumerate(row):
            if isinstance(v, str) and v.startswith("=") and c < len(values[r]) and values[r][c] is None:
                values[r][c] = v
                uncomputed.append(f"{openpyxl.utils.get_column_letter(c + 1)}{r + 1}")
    wb.close()
    return trimmed([[cell_text(v) for v in row] for row in values]), uncomputed


def assert_same_as_openpyxl(path: Path) -> list[list[str]]:
    warnings: list[str] = []
    grid = trimmed(read_xlsx_grid(path, warnings))
    expected, uncomputed = openpyxl_reference(path)
    assert grid == expected
    if uncomputed:
        assert len(warnings) == 1 and f"有{len(uncomputed)}个公式单元格没有计算结果" in warnings[0]
        assert "、".join(uncomputed[:5]) in warnings[0]
    else:
        assert warnings == []
    return grid


def test_openpyxl_written_workbook_with_every_kind_of_cell(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["武汉市2026年第三季度低保对象名册"])
    ws.merge_cells("A1:H1")
    ws.append([])  # an empty row
    ws.append(["序号", "家庭编号", "姓名", "身份证号", "金额", "日期", "在册", "备注"])
    rich = CellRichText("王", TextBlock(InlineFont(b=True), "秀"), "英")
    ws.append([1, "H001", rich, 420102199001011234, 1.5, dt.datetime(2026, 7, 1), True, None])
    ws.append([2, "H001", "张 伟", 3e17, 0.1 + 0.2, dt.datetime(2026, 7, 1, 8, 30), False, "#N/A"])
    ws.append([3, "H002", "李四", 4.20115e17, -12, dt.date(1990, 1, 31), None, "=1+1"])
    ws.append([None, None, None, None, None, None, None, None, None, None, "远处的单元格"])
    ws["B4"] = "H001"
    ws.merge_cells("B4:B5")
    path = tmp_path / "assistance.xlsx"
    wb.save(path)

    grid = assert_same_as_openpyxl(path)
    assert grid[3][2] == "王秀英"
    assert grid[3][3] == "4.20102199001011E+17"  # openpyxl stores a Python int this long as a float
    assert grid[3][4] == "1.5"
    assert grid[4][3] == "3.00000000000000E+17"
    assert grid[3][5] == "2026-07-01" and grid[4][5] == "2026-07-01 08:30:00"
    assert (grid[3][6], grid[4][6]) == ("是", "否")
    assert grid[5][7] == "=1+1"  # openpyxl writes no cached value: the formula text is kept
    assert grid[1] == []  # the empty row costs nothing, whatever the sheet's width


def test_xlsxwriter_workbook_with_shared_strings_and_cached_formulas(tmp_path):
    path = tmp_path / "poverty.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("名册")
    wb.add_worksheet("说明")
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True})
    ws.merge_range("A1:F1", "武汉市扶贫对象名册", bold)
    ws.write_row(2, 0, ["户编号", "姓名", "身份证号", "收入", "日期", "备注"])
    ws.write_row(3, 0, ["P1", "王五", "420102199001011234"])
    ws.write_number(3, 3, 12345.5)
    ws.write_datetime(3, 4, dt.datetime(2026, 9, 30), date_format)
    ws.write_rich_string(3, 5, "复", bold, "核", "中")
    ws.write_row(4, 0, ["P1", "王五", "420102199001011234"])  # repeated strings: shared once
    ws.write_number(4, 3, 420102199001011234)  # stored as a float by Excel: the tail is lost
    ws.write_formula(4, 4, "=D4*2", None, 24691)
    ws.write_boolean(4, 5, True)
    ws.write_formula(5, 3, "=SUM(D4:D5)")  # xlsxwriter caches 0
    ws.write_string(5, 1, "  空格  ")
    ws.write_number(5, 2, 1e-7)
    ws.merge_range("A5:A6", "P1")
    wb.close()

    grid = assert_same_as_openpyxl(path)
    assert grid[3][5] == "复核中"
    assert grid[4][3] == "4.20102199001011E+17"
    assert grid[4][4] == "24691"
    assert grid[5][1] == "  空格  "


def _with_sheet_xml(path: Path, sheet_xml: str, shared_strings_xml: str | None = None) -> Path:
    """The package at `path` with its first sheet (and shared strings) replaced."""
    out = path.with_name("patched_" + path.name)
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = sheet_xml.encode("utf-8")
            elif item.filename == "xl/sharedStrings.xml" and shared_strings_xml is not None:
                data = shared_strings_xml.encode("utf-8")
            zout.writestr(item, data)
    return out


def _base_workbook(tmp_path: Path) -> Path:
    """An xlsxwriter package with a shared-strings part and a date style as style 1."""
    path = tmp_path / "education.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    ws.write_datetime(0, 0, dt.datetime(2026, 1, 1), wb.add_format({"num_format": "yyyy-mm-dd"}))
    ws.write_string(1, 0, "占位")
    wb.close()
    return path


SHARED = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="{MAIN_NS}" count="6" uniqueCount="6">
<si><t>姓名</t></si>
<si><t xml:space="preserve"> 身份证号 </t></si>
<si><r><t>王</t></r><r><rPr><b/><sz val="11"/></rPr><t>秀英</t></r></si>
<si><t>张三</t><rPh sb="0" eb="1"><t>ちょう</t></rPh><phoneticPr fontId="1"/></si>
<si><t>a_x005F_x000D_b</t></si>
<si><t/></si>
</sst>"""


@pytest.mark.parametrize(
    "dimension",
    [
        '<dimension ref="A1:F9"/>',  # as written
        "",  # no dimension: rows as wide as their last cell
        '<dimension ref="A1:C4"/>',  # too small: every row in the XML is read all the same
    ],
)
def test_hand_written_sheet_xml_edge_cases(tmp_path, dimension):
    sheet = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{MAIN_NS}">{dimension}<sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c></row>
<row r="3"><c r="A3" t="s"><v>3</v></c><c r="B3"><v>420102199001011234</v></c><c r="C3"><v>1.50</v></c>
  <c r="D3"><v>3E+17</v></c><c r="E3" s="1"><v>46022</v></c><c r="F3" t="e"><v>#N/A</v></c></row>
<row><c t="inlineStr"><is><t>无坐标</t></is></c><c t="inlineStr"><is><r><t>富</t></r><r><t>文本</t></r></is></c>
  <c r="E4" t="b"><v>0</v></c><c r="F4" t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>
<row r="5"><c r="A5" t="s"><v>4</v></c><c r="B5" t="s"><v>5</v></c><c r="C5" t="inlineStr"/><c r="D5"><v></v></c>
  <c r="E5"><f t="shared" ref="E5:E7" si="0">B3+1</f></c><c r="F5" t="d"><v>2026-07-01T00:00:00</v></c></row>
<row r="6"><c r="E6"><f t="shared" si="0"/></c><c r="F6"><f>1/0</f><v>7</v></c></row>
<row r="7"><c r="A7"><v>0042</v></c><c r="B7"><v>-0</v></c><c r="C7"><v>1e-3</v></c><c r="E7"><f t="shared" si="0"/></c></row>
<row r="9"><c r="B9" t="inlineStr"><is><t>末行</t></is></c></row>
</sheetData><mergeCells count="1"><mergeCell ref="A5:A7"/></mergeCells></worksheet>"""
    path = _with_sheet_xml(_base_workbook(tmp_path), sheet, SHARED)
    grid = assert_same_as_openpyxl(path)
    if dimension != '<dimension ref="A1:F9"/>':
        assert grid[0] == ["姓名", " 身份证号 ", "王秀英"]
        assert grid[2] == ["张三", "420102199001011234", "1.5", "3.00000000000000E+17", "2025-12-31", "#N/A"]
        assert grid[3] == ["无坐标", "富文本", "", "", "否", "ab"]
        assert grid[4][:3] == ["a_x000D_b", "", ""]  # x005F_ removed as openpyxl does; <t/> is empty
        assert grid[8] == ["", "末行"]
        assert grid[5][4] == "=B4+1" and grid[6][0] == "42"


def test_empty_first_sheet_and_roll_on_the_second(tmp_path):
    path = tmp_path / "assistance.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.create_sheet("名册").append(["姓名", "身份证号"])
    wb.save(path)
    assert assert_same_as_openpyxl(path) == []


def test_merged_household_cells_fill_down_in_the_data_area(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["武汉市社会救助对象名册"])
    ws.merge_cells("A1:E1")
    ws.append(["家庭编号", "与户主关系", "姓名", "身份证号", "救助类别", "状态"])
    ws.append(["H001", "户主", "王秀英", "420102195001011234", "城市低保", "在保"])
    ws.append([None, "配偶", "张伟", "420102194812125678", "城市低保", "在保"])
    ws.merge_cells("A3:A4")
    path = tmp_path / "assistance.xlsx"
    wb.save(path)
    f = read_extract_file(path, "assistance")
    assert f.rows["household_id"].to_list() == ["H001", "H001"]
    assert f.rows["id_number"].to_list() == ["420102195001011234", "420102194812125678"]


def test_broken_sheet_xml_is_a_damaged_file(tmp_path):
    path = _with_sheet_xml(_base_workbook(tmp_path), f'<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1" t="s"><v>0</v>')
    with pytest.raises(ExtractFileError, match="文件已损坏"):
        read_xlsx_grid(path)

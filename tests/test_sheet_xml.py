"""Data rows spliced into an xlsxwriter workbook read back exactly as xlsxwriter's own cells."""

import io
import zipfile

import openpyxl
import polars as pl
import xlsxwriter

from matchers.reports.sheet_xml import rows_xml, splice_rows

AWKWARD = [
    "王秀英",
    "a & b < c > d \"quoted\" 'single'",
    " leading space",
    "trailing space ",
    "tab\tinside",
    "two\nlines",
    "control \x01 and \x1f and carriage\rreturn",
    "non-character \ufffe",
    "身份证号 4201**********123X",
    "",
    "😀 emoji and 𠮷",
]


def _build(rows: list[list[str | None]], splice: bool) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    text = wb.add_format({"text_wrap": True, "num_format": "@"})
    blank = wb.add_format({"bg_color": "#FFF2CC", "border": 1})
    ws = wb.add_worksheet("名单")
    ws.write_string(0, 0, "标题")
    for c in range(3):
        ws.write_string(1, c, f"列{c}")
    ws.freeze_panes(2, 0)
    ws.autofilter(1, 0, 1 + len(rows), 2)
    todo = rows[1:] if splice else []
    for r, row in enumerate(rows if not splice else rows[:1], start=2):
        for c, value in enumerate(row):
            if value is None:  # an empty cell keeps its column's style, as in the spliced rows
                ws.write_blank(r, c, None, blank if c == 2 else text)
            else:
                ws.write_string(r, c, value, text)
    other = wb.add_worksheet("说明")
    other.write_string(0, 0, "不变的工作表")
    wb.close()
    if not splice:
        return buf.getvalue()
    frame = pl.DataFrame({f"c{c}": [row[c] for row in todo] for c in range(3)}, schema={f"c{c}": pl.String for c in range(3)})
    styles = [text.xf_index, text.xf_index, blank.xf_index]
    return splice_rows(buf.getvalue(), {1: (rows_xml(frame, 3, styles), f"A1:C{2 + len(rows)}")})


def _cells(data: bytes):
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = {}
    for ws in wb.worksheets:
        out[ws.title] = (
            ws.dimensions,
            ws.freeze_panes,
            ws.auto_filter.ref,
            [
                [(c.value, c.number_format, c.alignment.wrap_text, c.fill.fgColor.rgb, c.border.left.style) for c in row]
                for row in ws.iter_rows()
            ],
        )
    return out


def test_spliced_rows_read_back_as_xlsxwriter_writes_them():
    rows = [[AWKWARD[i % len(AWKWARD)], AWKWARD[(i * 5 + 3) % len(AWKWARD)], None] for i in range(40)]
    rows[7][1] = None
    # A text that looks like an escape is escaped again as xlsxwriter does (Excel reads it back as
    # written; openpyxl leaves in-line strings undecoded, so it is checked in the XML only).
    rows[9][0] = "looks escaped _x0041_ already"
    plain, spliced = _build(rows, splice=False), _build(rows, splice=True)
    assert spliced != plain  # the rows really are ours: in-line strings instead of shared ones
    sheet = zipfile.ZipFile(io.BytesIO(spliced)).read("xl/worksheets/sheet1.xml")
    assert b"_x005F_x0041_" in sheet and b"_x0001_" in sheet and sheet.count(b't="inlineStr"') > 60
    assert '<t xml:space="preserve"> leading space</t>'.encode() in sheet  # Excel would trim it otherwise
    assert "<t>a &amp; b &lt; c &gt; d".encode() in sheet
    rows[9][0] = None
    assert _cells(_build(rows, splice=True)) == _cells(_build(rows, splice=False))


def test_nothing_to_splice_leaves_the_file_as_it_is():
    plain = _build([["一行", "而已", None]], splice=False)
    assert splice_rows(plain, {1: (b"", "A1:C3")}) == plain


def test_a_second_reader_decodes_the_spliced_cells_like_xlsxwriters_own():
    import fastexcel

    rows = [[AWKWARD[i % len(AWKWARD)], AWKWARD[(i * 7 + 1) % len(AWKWARD)], None] for i in range(30)]
    rows[4][0] = "looks escaped _x0041_ already"  # calamine, like Excel, decodes in-line escapes too

    def values(data: bytes):
        return fastexcel.read_excel(data).load_sheet(0, header_row=None).to_polars().rows()

    assert values(_build(rows, splice=True)) == values(_build(rows, splice=False))

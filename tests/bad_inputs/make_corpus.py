"""Write the committed bad-input corpus (tests/bad_inputs/*): small files, seeded, reproducible.

    .venv/bin/python -m tests.bad_inputs.make_corpus

The password-protected XLSX needs `msoffcrypto-tool` (not a project dependency): when it is not
installed the committed `assistance_encrypted.xlsx` is kept as it is. The 100 MB file is never
committed; tests/test_bad_inputs.py writes it at test time.
"""

from __future__ import annotations

import csv
import io
import random
import re
import zipfile
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
PASSWORD = "wuhan2026"

HEADER = ["序号", "家庭编号", "与户主关系", "姓名", "身份证号", "性别", "区", "救助类别",
          "月保障金额(元)", "家庭人口", "状态", "状态日期"]
# Valid IDs (check digits right) of made-up people; nothing here is a real person.
GOOD = [
    ["1", "H9001", "户主", "王秀英", "420102195001011238", "女", "江岸区", "城市低保", "1,600元", "2", "在保", "2026/7/1"],
    ["2", "H9001", "配偶", "张伟", "420111198001011069", "男", "江岸区", "城市低保", "", "2", "在保", "2026-07-01"],
    ["3", "H9002", "户主", "李娜", "42011119800101106X", "女", "洪山区", "农村特困", "900", "1", "在保", "2026年7月1日"],
]


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8", lineterminator: str = "\r\n") -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=lineterminator).writerows(rows)
    return buf.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]], merges: tuple[str, ...] = ()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for ref in merges:
        ws.merge_cells(ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_sheet(data: bytes, edit) -> bytes:
    """The package with `edit(sheet1.xml bytes)` as its first sheet."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = edit(body)
            dst.writestr(item, body)
    return out.getvalue()


def _with_cached_formula(data: bytes) -> bytes:
    """Rewrite the I2 cell as Excel saves a formula: the formula and its last computed value."""

    def edit(body: bytes) -> bytes:
        body, n = re.subn(rb'<c r="I2"[^>]*>.*?</c>', b'<c r="I2"><f>1000+600</f><v>1600</v></c>', body)
        assert n == 1
        return body

    return _with_sheet(data, edit)


def _add_cells(cells: bytes):
    """An `edit` for `_with_sheet`: these `<row>` elements appended to the sheet data."""
    return lambda body: body.replace(b"</sheetData>", cells + b"</sheetData>")


def bounded_reading_cases() -> dict[str, bytes]:
    """Files that cost far more to read than their size if the reader trusts the sheet."""
    real = xlsx_bytes([HEADER] + GOOD)
    far = b"".join(
        b'<row r="%d"><c r="XFD%d" t="inlineStr"><is><t>x</t></is></c></row>' % (r, r) for r in (6, 7, 8)
    )
    return {
        # The sheet claims A1:XFD10000: a reader that allocates what <dimension> says needs GBs.
        "assistance_sparse_dimension.xlsx": _with_sheet(
            real, lambda b: re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD10000"/>', b)
        ),
        # Stray cells in the last column (XFD) on rows of their own, under the roll.
        "assistance_stray_far_cells.xlsx": _with_sheet(real, _add_cells(far)),
        # A cell numbered beyond any sheet (row 9,999,999): refused at the row limit.
        "assistance_row_beyond_limit.xlsx": _with_sheet(
            real, _add_cells(b'<row r="9999999"><c r="A9999999"><v>1</v></c></row>')
        ),
        # A cell right of Excel's last column (XFE = column 16,385).
        "assistance_column_beyond_limit.xlsx": _with_sheet(
            real, _add_cells(b'<row r="9"><c r="XFE9"><v>1</v></c></row>')
        ),
        # 12 MB of blanks inside the sheet XML, compressed to a few KB (a zip bomb in small).
        "assistance_unpacks_large.xlsx": _with_sheet(
            real, lambda b: b.replace(b"</sheetData>", b"</sheetData>" + b" " * 12_000_000)
        ),
        # A record with 17,012 cells: over the column limit.
        "assistance_too_many_columns.csv": csv_bytes([HEADER, GOOD[0] + [""] * 17_000, GOOD[1]]),
        # A 5,000-character remark in the first data row (the header search reads it too).
        "assistance_long_cell.csv": csv_bytes([HEADER + ["备注"], GOOD[0] + ["很长的备注" * 1000], GOOD[1]]),
    }


def cell_text_cases() -> dict[str, bytes]:
    """Cells that must be repaired, refused or kept exactly as text."""
    wrapped = [list(r) for r in GOOD]
    wrapped[0][4] = '="420102195001011238"'  # an export keeping Excel off the long number
    wrapped[1][4] = "\u200e420106199001011231\u200f"  # left-to-right / right-to-left marks
    wrapped[2][4] = "\ufeff4201\u200b1119800101\u00a0106X"  # BOM, zero-width space, NBSP
    places = [list(r) for r in GOOD]
    places[0][6] = '=HYPERLINK("http://example.invalid","点击")'
    places[1][6] = "武汉市江岸区"
    places[2][6] = "东湖高新区"
    header = HEADER + ["街道", "社区"]
    places[0] += ["+cmd|' /C calc'!A0", "@SUM(1)"]
    places[1] += ["-2+3", "=1+1"]
    places[2] += ["纸坊街道", "幸福社区"]
    return {
        "assistance_wrapped_ids.csv": csv_bytes([HEADER] + wrapped),
        "assistance_districts_and_formulas.csv": csv_bytes([header] + places),
    }


def corpus() -> dict[str, bytes]:
    rnd = random.Random(20260930)
    files: dict[str, bytes] = {}
    files["assistance_empty.csv"] = b""
    files["assistance_header_only.csv"] = csv_bytes([HEADER])
    # A PDF-like blob with NUL bytes, saved under a .csv name.
    files["assistance_binary_garbage.csv"] = b"%PDF-1.4\n\x00\x01" + bytes(rnd.randrange(256) for _ in range(2000))
    # No NUL, but neither UTF-8 nor GB18030 (0xFF never occurs in either).
    files["assistance_undecodable.csv"] = csv_bytes([HEADER, GOOD[0]]) + b"\xff\xfe\xff\xfe,\xff\n"
    files["assistance_html.xlsx"] = (
        "<html><head><meta http-equiv='Content-Type' content='text/html; charset=utf-8'></head><body>"
        "<table><tr>" + "".join(f"<td>{h}</td>" for h in HEADER) + "</tr></table></body></html>"
    ).encode("utf-8")
    real = xlsx_bytes([HEADER] + GOOD)
    files["assistance_truncated.xlsx"] = real[: len(real) // 2]  # a download cut off half way
    files["assistance_xlsx_renamed.csv"] = real  # someone "converted" it by renaming
    files["assistance_html_renamed.csv"] = files["assistance_html.xlsx"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("assistance_part1.csv", csv_bytes([HEADER] + GOOD))
    files["assistance_zip_of_csv.xlsx"] = zipped.getvalue()
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表由民政局导出,名册见第二个工作表"])
    roll = wb.create_sheet("名册")
    for r in [HEADER] + GOOD:
        roll.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    files["assistance_roll_on_second_sheet.xlsx"] = buf.getvalue()
    files["assistance_no_header.csv"] = csv_bytes([["编号", "内容"], ["1", "王秀英"], ["2", "张伟"]])
    files["assistance_missing_column.csv"] = csv_bytes(
        [[h for h in HEADER if h != "救助类别"]] + [[c for c, h in zip(r, HEADER) if h != "救助类别"] for r in GOOD]
    )
    files["assistance_duplicated_header.csv"] = csv_bytes(
        [HEADER + ["身份证号"]] + [r + ["420102195001011238"] for r in GOOD]
    )
    files["assistance_unclosed_quote.csv"] = csv_bytes([HEADER, GOOD[0]]) + (
        '2,H9001,配偶,"张伟,420111198001011069,男,江岸区,城市低保,,2,在保,2026-07-01\r\n'
        "3,H9002,户主,李娜,42011119800101106X,女,洪山区,农村特困,900,1,在保,2026-07-01\r\n"
    ).encode("utf-8")
    files["assistance_old_format.xls"] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    # The same compound-file header renamed .xlsx (no EncryptedPackage stream: not a password).
    files["assistance_xls_renamed.xlsx"] = files["assistance_old_format.xls"]
    # Row-level cases: the file loads; bad cells are null and marked, bad rows rejected.
    files["assistance_mixed_encoding.csv"] = csv_bytes([HEADER, GOOD[0]]) + csv_bytes([GOOD[1]], "gb18030") + csv_bytes([GOOD[2]])
    files["assistance_ragged_rows.csv"] = csv_bytes(
        [HEADER, GOOD[0][:8], GOOD[1] + ["多出的单元格", "又一个"], GOOD[2]]
    )
    files["assistance_fullwidth_header.csv"] = csv_bytes(
        [["序号", " 家庭　编号 ", "与户主关系", "姓　名", "身份证号码 ", "救助类别", "月保障金额（元）", "状　态"]]
        + [["1", "H9001", "户主", "王秀英", "４２０１０２１９５００１０１１２３８", "城市低保", "１，６００元", "在保"]]
    )
    files["assistance_bad_amount_date.csv"] = csv_bytes(
        [HEADER, GOOD[0][:8] + ["-300", "2", "在保", "2026/7/1"], GOOD[1][:8] + ["不详", "2", "在保", "七月初"],
         GOOD[2][:11] + ["2026-02-30"]]
    )
    files["assistance_no_name_garbage_id.csv"] = csv_bytes(
        [HEADER, GOOD[0], ["2", "H9003", "户主", "", "12345ABC", "男", "江岸区", "城市低保", "", "1", "在保", ""], GOOD[2]]
    )
    files["assistance_cr_line_endings.csv"] = csv_bytes([HEADER] + GOOD, lineterminator="\r")
    uncached = xlsx_bytes([HEADER] + [GOOD[0][:8] + ["=1000+600"] + GOOD[0][9:]] + GOOD[1:])
    files["assistance_formula_uncached.xlsx"] = uncached
    files["assistance_formula_cached.xlsx"] = _with_cached_formula(uncached)
    merged = [HEADER] + [list(r) for r in GOOD]
    merged[2][1] = merged[2][7] = None  # the household number and category are merged over rows 2-3
    banner = [["武汉市2026年第三季度低保对象名册"] + [None] * 11]
    files["assistance_merged_cells.xlsx"] = xlsx_bytes(
        banner + merged, merges=("A1:L1", "B3:B4", "H3:H4", "M3:O3")
    )
    files.update(bounded_reading_cases())
    files.update(cell_text_cases())
    return files


def encrypted_xlsx() -> bytes | None:
    try:
        import msoffcrypto
        from msoffcrypto.format.ooxml import OOXMLFile
    except ImportError:
        return None
    del msoffcrypto
    plain = io.BytesIO(xlsx_bytes([HEADER] + GOOD))
    out = io.BytesIO()
    OOXMLFile(plain).encrypt(PASSWORD, out)
    return out.getvalue()


def main() -> None:
    for name, data in corpus().items():
        (HERE / name).write_bytes(data)
    enc = encrypted_xlsx()
    if enc is not None:
        (HERE / "assistance_encrypted.xlsx").write_bytes(enc)
    print(f"wrote {len(corpus())} files to {HERE}" + ("" if enc else " (encrypted XLSX kept: msoffcrypto not installed)"))


if __name__ == "__main__":
    main()

"""Reading an XLSX department file: what a file named .xlsx really is, the first sheet's rows as
text (bounded by `matchers.read_limits`), its merged cells."""

from __future__ import annotations

import itertools
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from matchers.contract import HEADER_SEARCH_ROWS
from matchers.extract_errors import ExtractFileError
from matchers.read_limits import ReadLimits, read_limits, refusal
from matchers.xlsx_cells import SheetRows, SheetTooLarge, open_workbook

BROKEN_XLSX = "不是有效的XLSX文件(文件已损坏或格式不符)"

# An OLE compound file (CFB): either an Office file with an open password (the real XLSX is inside
# as an encrypted stream) or an old binary .xls workbook.
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CFB_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def _not_xlsx_hint(path: Path) -> str:
    """Why a file named .xlsx is not one, in words an officer can act on."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    lower = head.lower()
    if not head:
        return "是空文件(没有任何内容)"
    if head.startswith(CFB_MAGIC):
        with open(path, "rb") as fh:
            data = fh.read(1 << 24)
        if _CFB_ENCRYPTED_STREAM in data:
            return "设置了打开密码(文件已加密),无法读取;请在Excel中取消密码后另存为Excel工作簿(.xlsx)"
        return "实际是旧版Excel 97-2003(.xls)格式,不是XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    if b"urn:schemas-microsoft-com:office:spreadsheet" in lower and b"<html" not in lower:
        return "实际是“XML电子表格2003”格式,不是XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    if b"<html" in lower or b"<table" in lower or b"<!doctype" in lower or b"<meta" in lower:
        return "实际是网页(HTML)格式,不是真正的XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    return BROKEN_XLSX


def _refuse_other_zip(path: Path, limits: ReadLimits) -> None:
    """A ZIP that is not a workbook (files zipped together, a Word document) named .xlsx, or one
    whose parts decompress to more than the size limit (the sizes its directory declares: a part
    is never read past its declared size)."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExtractFileError(path.name, BROKEN_XLSX) from exc
    names = [i.filename for i in infos]
    unpacked = sum(i.file_size for i in infos)
    if unpacked > limits.max_bytes:
        raise ExtractFileError(path.name, refusal("max_bytes", limits, f"解压后共{unpacked:,}字节"))
    if "xl/workbook.xml" in names or any(n.lower().endswith("workbook.xml") for n in names):
        return
    if "word/document.xml" in names:
        raise ExtractFileError(path.name, "实际是Word文档,不是Excel工作簿;请导出为Excel工作簿(.xlsx)或CSV")
    shown = "、".join(n for n in names[:5] if not n.endswith("/")) + ("等" if len(names) > 5 else "")
    raise ExtractFileError(
        path.name, f"实际是ZIP压缩包(内含:{shown}),不是Excel工作簿;请解压后把其中的CSV/XLSX文件放入季度文件夹"
    )


_MERGE_REF = re.compile(rb'<mergeCell\s+ref="([A-Z]+)([0-9]+):([A-Z]+)([0-9]+)"')


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n - 1


def _scan_sheet_xml(path: Path, sheet_path: str | None) -> tuple[list[tuple[int, int, int, int]], bool]:
    """(merged ranges as 0-based (row1, col1, row2, col2), whether any formula cell exists).

    Streams the sheet part: merged ranges are listed after the cell data, so only that tail is
    parsed; the whole sheet is never held in memory.
    """
    if not sheet_path:
        return [], False
    has_formula = False
    tail = b""
    carry = b""
    after_data = False
    with zipfile.ZipFile(path) as zf:
        try:
            fh = zf.open(sheet_path.lstrip("/"))
        except KeyError:
            return [], False
        with fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                buf = carry + chunk
                if not has_formula and (b"<f>" in buf or b"<f " in buf or b"<x:f" in buf):
                    has_formula = True
                if after_data:
                    tail += chunk
                else:
                    at = buf.find(b"</sheetData>")
                    if at >= 0:
                        after_data = True
                        tail = buf[at:]
                carry = buf[-32:]
    ranges = [
        (int(r1) - 1, _col_index(c1), int(r2) - 1, _col_index(c2))
        for c1, r1, c2, r2 in _MERGE_REF.findall(tail)
    ]
    return ranges, has_formula


def read_xlsx_grid(
    path: Path,
    warnings: list[str] | None = None,
    merged_out: list[tuple[int, int, int, int]] | None = None,
    *,
    limits: ReadLimits | None = None,
    keep_width: Callable[[list], tuple[int, int]] | None = None,
) -> list[list[str] | tuple[str, ...]]:
    """The rows of the first sheet as text (values of formulas as last computed by Excel).

    Cells merged over several rows are listed in `merged_out` (0-based row1, col1, row2, col2);
    the caller fills them down in the data area only (`fill_merged_down`). openpyxl opens the
    package; the cells are streamed by `matchers.xlsx_cells.SheetRows`. With `keep_width`, it is
    called with the first HEADER_SEARCH_ROWS rows and returns (header index, width): rows below
    the header keep only their first `width` cells, so a stray far cell costs nothing per row.
    A package or sheet beyond `limits` is refused, naming the limit.
    """
    limits = limits or read_limits()
    if not zipfile.is_zipfile(path):
        raise ExtractFileError(path.name, _not_xlsx_hint(path))
    _refuse_other_zip(path, limits)
    try:
        wb = open_workbook(path)
    except Exception as exc:  # openpyxl raises many kinds for broken packages
        raise ExtractFileError(path.name, BROKEN_XLSX) from exc
    try:
        ws = wb.worksheets[0]
        merged, has_formula = _scan_sheet_xml(path, getattr(ws, "_worksheet_path", None))
        rows = SheetRows(ws, has_formula, limits.max_rows, limits.max_columns)
        grid = _collect(rows, keep_width)
    except SheetTooLarge as exc:
        raise ExtractFileError(path.name, refusal(exc.limit, limits, exc.found)) from exc
    except ExtractFileError:
        raise
    except Exception as exc:
        raise ExtractFileError(path.name, "读取XLSX内容失败(文件已损坏或格式不符)") from exc
    finally:
        wb.close()
    if rows.uncomputed and warnings is not None:
        # A formula Excel never computed (the file was written by a program, not saved by Excel)
        # has no cached value: its formula text is kept, so the cell is marked as unusable
        # instead of vanishing.
        uncomputed = rows.uncomputed
        shown = "、".join(uncomputed[:5]) + ("等" if len(uncomputed) > 5 else "")
        warnings.append(
            f"文件“{path.name}”有{len(uncomputed)}个公式单元格没有计算结果({shown}),按公式原文读取;"
            "请在Excel中打开并保存后重新导出"
        )
    if merged_out is not None:
        merged_out.extend((r1, c1, r2, c2) for r1, c1, r2, c2 in merged if r2 > r1)
    return grid


def _collect(rows: SheetRows, keep_width: Callable[[list], tuple[int, int]] | None) -> list:
    """The sheet's rows, those below the header cut to the width `keep_width` gives."""
    stream = iter(rows)
    grid: list = list(itertools.islice(stream, HEADER_SEARCH_ROWS))
    if keep_width is not None:
        header_index, width = keep_width(grid)
        rows.width = width  # every row streamed from here on
        for i in range(header_index + 1, len(grid)):
            if len(grid[i]) > width:
                grid[i] = grid[i][:width]
    grid.extend(stream)
    return grid


def other_sheets_hint(path: Path) -> str:
    """When the header is not on the first sheet, name the sheets (the roll may be on another)."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True)
        names = wb.sheetnames
        wb.close()
    except Exception:
        return ""
    if len(names) < 2:
        return ""
    return f"(只读取第一个工作表“{names[0]}”;本文件还有工作表“{'”“'.join(names[1:4])}”,请把名册移到第一个工作表)"


def fill_merged_down(
    grid: list, merged: list[tuple[int, int, int, int]], below_row: int, width: int | None = None
) -> int:
    """A cell merged over several data rows (a household number spanning its members) belongs to
    each of those rows: copy it down its column. Only merges starting below `below_row` (the header,
    0-based) count; merges across columns only (a note spread over a row) are left alone, so they
    never turn into names or IDs; merges right of `width` (columns not kept) are skipped. Returns
    the number of merged ranges filled."""
    filled = 0
    for r1, c1, r2, _c2 in merged:
        if r1 <= below_row or r1 >= len(grid) or c1 >= len(grid[r1]) or (width is not None and c1 >= width):
            continue
        filled += 1
        value = grid[r1][c1]
        for r in range(r1 + 1, min(r2, len(grid) - 1) + 1):
            row = grid[r]
            if len(row) <= c1:
                row = grid[r] = [*row, *[""] * (c1 + 1 - len(row))]  # EMPTY_ROW is shared: a new list
            if not row[c1]:
                row[c1] = value
    return filled

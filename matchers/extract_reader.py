"""Reading department extract files (EXTRACTS.md): find the files, detect encoding, find the header
row under the banner rows, map headers through the aliases, number the data rows.

Every cell stays text here. Pure library: raises `ExtractFileError` with a Chinese message naming
the file (and column) when a file cannot be used.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import hashlib
import io
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matchers.contract import (
    MAX_BANNER_ROWS,
    QUARTER_PATTERN,
    SOURCES,
    SPECS,
    TOTAL_ROW_MARKERS,
    SourceSpec,
    alias_index,
    fold_header,
)

EXTENSIONS = (".csv", ".xlsx")
# Spreadsheets a department may send instead: picked up as the source's files so the run fails
# with a message saying what to do, instead of treating the department as late.
OTHER_SPREADSHEET_EXTENSIONS = (".xls", ".xlsm", ".xlsb", ".et", ".ods")
ROW_COLUMN = "__row"  # 1-based data row index (EXTRACTS.md "Row identity")
FILE_COLUMN = "__file"


class ExtractFileError(Exception):
    """A file the pipeline cannot use; the message is Chinese and names the file."""

    def __init__(self, file: str, problem: str):
        self.file = file
        self.problem = problem
        super().__init__(f"文件“{file}”{problem}")


@dataclass
class ExtractFile:
    """One file's data rows: text cells under canonical field names, plus provenance."""

    path: Path
    source: str
    encoding: str
    header_row: int  # 1-based physical row of the header in the file/sheet
    columns: dict[str, str]  # field name → header text as found in the file
    rows: pl.DataFrame  # canonical text columns + __row; blank/title/合计 rows removed
    raw_headers: list[str] = field(default_factory=list)
    sha256: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name


# ---- finding files ---------------------------------------------------------------------------


def list_quarters(extracts_dir: str | Path) -> list[str]:
    """Quarter folders (`2026Q3`) under the extracts folder, oldest first."""
    root = Path(extracts_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and QUARTER_PATTERN.match(p.name))


def source_files(extracts_dir: str | Path, quarter: str, source: str) -> list[Path]:
    """The files of one source in a quarter folder: `<source>[_anything].<csv|xlsx>`, by name (plus
    .xls and other spreadsheets, which `read_extract_file` refuses with a message)."""
    folder = Path(extracts_dir) / quarter
    if not folder.is_dir():
        return []
    out = []
    for p in folder.iterdir():
        if not p.is_file() or p.name.startswith((".", "~$")):
            continue
        suffix = p.suffix.lower()
        if suffix in EXTENSIONS + OTHER_SPREADSHEET_EXTENSIONS and _stem_source(p.stem) == source:
            out.append(p)
    return sorted(out, key=lambda p: p.name)


def _stem_source(stem: str) -> str | None:
    # Longest key first, so no key can shadow another that starts with it.
    for key in sorted(SOURCES, key=len, reverse=True):
        if stem.lower().startswith(key):
            return key
    return None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---- decoding --------------------------------------------------------------------------------


def decode_csv_bytes(data: bytes, file: str, warnings: list[str] | None = None) -> tuple[str, str]:
    """(text, encoding): UTF-8 with or without BOM, else GB18030 (a superset of GBK/GB2312).

    A file pasted together from a UTF-8 and a GB18030 export (some lines each) is decoded line by
    line, each line in the encoding it is valid in, with a warning naming the GB18030 lines.
    """
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:4096]:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16"), "utf-16"
        raise ExtractFileError(file, "不是文本格式的CSV文件(含二进制内容),请确认导出格式为CSV或XLSX")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    whole = _decode_gb18030_whole(data)
    if whole is not None:
        return whole, "gb18030"
    return _decode_by_line(data, file, warnings)


_REPLACEMENT_UTF8 = "\ufffd".encode("utf-8")


def _decode_gb18030_whole(data: bytes) -> str | None:
    """`_decode_by_line`'s answer for a plain GB18030 file, in a few whole-file passes: the text
    when every line decodes as GB18030 and no non-ASCII line is valid UTF-8, else None (the
    caller then goes line by line for the mixed file's warning or the undecodable line's error).

    A line is valid UTF-8 exactly when decoding the whole file with errors="replace" leaves no
    U+FFFD in it (UTF-8 sequences never span a line break); a file that holds a real U+FFFD
    takes the line-by-line way.
    """
    if data.startswith(codecs.BOM_UTF8) or _REPLACEMENT_UTF8 in data:
        return None
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        return None
    for line in data.decode("utf-8", errors="replace").split("\n"):
        if line.isascii():
            continue
        if "\ufffd" not in line:
            return None  # a valid UTF-8 line with Chinese text in it: a mixed file
        if line.find("\r", 0, len(line) - 1) != -1:
            # A lone CR also ends a line (bytes.splitlines): look at those parts one by one.
            for part in line.split("\r"):
                if "\ufffd" not in part and not part.isascii():
                    return None
    return text


def _decode_by_line(data: bytes, file: str, warnings: list[str] | None) -> tuple[str, str]:
    """Not UTF-8 as a whole: GB18030, unless some non-ASCII lines are valid UTF-8 (a mixed file).

    Line breaks are single bytes in both encodings (GB18030 never uses 0x0A/0x0D inside a
    character), so splitting the bytes at them is safe.
    """
    bom = codecs.BOM_UTF8 if data.startswith(codecs.BOM_UTF8) else b""
    lines = data[len(bom):].splitlines(keepends=True)
    parts: list[str] = []
    gb_lines: list[int] = []
    utf8_lines = 0
    for number, line in enumerate(lines, start=1):
        if line.isascii():
            parts.append(line.decode("ascii"))
            continue
        try:
            parts.append(line.decode("utf-8"))
            utf8_lines += 1
            continue
        except UnicodeDecodeError:
            pass
        try:
            parts.append(line.decode("gb18030"))
            gb_lines.append(number)
        except UnicodeDecodeError as exc:
            raise ExtractFileError(
                file,
                f"第{number}行无法识别编码(既不是UTF-8也不是GB18030/GBK,该行第{exc.start + 1}字节起无法解码);"
                "请用Excel或记事本重新另存为UTF-8编码的CSV",
            ) from exc
    text = "".join(parts)
    if not utf8_lines:
        return text, "gb18030"
    if warnings is not None:
        shown = "、".join(str(n) for n in gb_lines[:10]) + ("等" if len(gb_lines) > 10 else "")
        warnings.append(
            f"文件“{file}”混用了两种编码:{utf8_lines}行是UTF-8,{len(gb_lines)}行是GB18030/GBK"
            f"(第{shown}行),已逐行识别;请核对这些行的文字是否正确,今后请统一导出为一种编码"
        )
    return text, "utf-8+gb18030"


# ---- reading raw grids -----------------------------------------------------------------------


def _head_records_csv(text: str, limit: int, file: str) -> tuple[list[list[str]], list[int]]:
    """First `limit` records and, for each, the number of physical lines consumed after it."""
    reader = csv.reader(io.StringIO(text, newline=""))  # "" : a lone CR also ends a line
    records, line_ends = [], []
    try:
        for rec in reader:
            records.append(rec)
            line_ends.append(reader.line_num)
            if len(records) >= limit:
                break
    except csv.Error as exc:
        raise ExtractFileError(file, f"第{reader.line_num}行CSV格式错误({exc}),无法读取表头") from exc
    return records, line_ends


# An OLE compound file (CFB): either an Office file with an open password (the real XLSX is inside
# as an encrypted stream) or an old binary .xls workbook.
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CFB_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


def _not_xlsx_hint(path: Path) -> str:
    """Why a file named .xlsx is not one, in words an officer can act on."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    lower = head.lower()
    if not head:
        return "是空文件(没有任何内容)"
    if head.startswith(_CFB_MAGIC):
        with open(path, "rb") as fh:
            data = fh.read(1 << 24)
        if _CFB_ENCRYPTED_STREAM in data:
            return "设置了打开密码(文件已加密),无法读取;请在Excel中取消密码后另存为Excel工作簿(.xlsx)"
        return "实际是旧版Excel 97-2003(.xls)格式,不是XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    if b"urn:schemas-microsoft-com:office:spreadsheet" in lower and b"<html" not in lower:
        return "实际是“XML电子表格2003”格式,不是XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    if b"<html" in lower or b"<table" in lower or b"<!doctype" in lower or b"<meta" in lower:
        return "实际是网页(HTML)格式,不是真正的XLSX;请在Excel中打开后“另存为”Excel工作簿(.xlsx)"
    return "不是有效的XLSX文件(文件已损坏或格式不符)"


def _refuse_other_zip(path: Path) -> None:
    """A ZIP that is not a workbook (files zipped together, a Word document) named .xlsx."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ExtractFileError(path.name, "不是有效的XLSX文件(文件已损坏或格式不符)") from exc
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
    path: Path, warnings: list[str] | None = None, merged_out: list[tuple[int, int, int, int]] | None = None
) -> list[list[str]]:
    """All rows of the first sheet as text (values of formulas as last computed by Excel).

    Cells merged over several rows are listed in `merged_out` (0-based row1, col1, row2, col2);
    the caller fills them down in the data area only (`fill_merged_down`). openpyxl opens the
    package; the cells are streamed by `matchers.xlsx_cells` (same grid, a fraction of the time).
    """
    from matchers.xlsx_cells import open_workbook, sheet_text_rows

    if not zipfile.is_zipfile(path):
        raise ExtractFileError(path.name, _not_xlsx_hint(path))
    _refuse_other_zip(path)
    try:
        wb = open_workbook(path)
    except Exception as exc:  # openpyxl raises many kinds for broken packages
        raise ExtractFileError(path.name, f"无法打开XLSX文件(文件已损坏):{type(exc).__name__}") from exc
    try:
        ws = wb.worksheets[0]
        sheet_path = getattr(ws, "_worksheet_path", None)
        merged, has_formula = _scan_sheet_xml(path, sheet_path)
        grid, uncomputed = sheet_text_rows(ws, keep_formulas=has_formula)
    except ExtractFileError:
        raise
    except Exception as exc:
        raise ExtractFileError(path.name, f"读取XLSX内容失败(文件已损坏):{type(exc).__name__}") from exc
    finally:
        wb.close()
    if uncomputed and warnings is not None:
        # A formula Excel never computed (the file was written by a program, not saved by Excel)
        # has no cached value: its formula text is kept, so the cell is marked as unusable
        # instead of vanishing.
        shown = "、".join(uncomputed[:5]) + ("等" if len(uncomputed) > 5 else "")
        warnings.append(
            f"文件“{path.name}”有{len(uncomputed)}个公式单元格没有计算结果({shown}),按公式原文读取;"
            "请在Excel中打开并保存后重新导出"
        )
    if merged_out is not None:
        merged_out.extend((r1, c1, r2, c2) for r1, c1, r2, c2 in merged if r2 > r1)
    return grid


def _other_sheets_hint(path: Path) -> str:
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


def fill_merged_down(grid: list[list[str]], merged: list[tuple[int, int, int, int]], below_row: int) -> int:
    """A cell merged over several data rows (a household number spanning its members) belongs to
    each of those rows: copy it down its column. Only merges starting below `below_row` (the header,
    0-based) count; merges across columns only (a note spread over a row) are left alone, so they
    never turn into names or IDs. Returns the number of merged ranges filled."""
    filled = 0
    for r1, c1, r2, _c2 in merged:
        if r1 <= below_row or r1 >= len(grid) or c1 >= len(grid[r1]):
            continue
        filled += 1
        value = grid[r1][c1]
        for r in range(r1 + 1, min(r2, len(grid) - 1) + 1):
            row = grid[r]
            if len(row) <= c1:
                row.extend([""] * (c1 + 1 - len(row)))
            if not row[c1]:
                row[c1] = value
    return filled


# ---- header detection ------------------------------------------------------------------------


def _is_blank(cells: list[str]) -> bool:
    return all(not (c or "").strip() for c in cells)


def _match_header(cells: list[str], spec: SourceSpec) -> dict[str, int]:
    """field → column index for the alias with the best priority present in this row."""
    index = alias_index(spec)
    best: dict[str, tuple[int, int]] = {}
    for col, cell in enumerate(cells):
        hit = index.get(fold_header(cell))
        if hit is None:
            continue
        fname, prio = hit
        if fname not in best or prio < best[fname][0]:
            best[fname] = (prio, col)
    return {f: col for f, (prio, col) in best.items()}


def _missing_required(mapping: dict[str, int], spec: SourceSpec) -> list[tuple[str, ...]]:
    return [group for group in spec.required if not any(f in mapping for f in group)]


def find_header(
    records: list[list[str]], spec: SourceSpec, file: str
) -> tuple[int, dict[str, int]]:
    """Index (0-based, among `records`) of the header row and its field → column mapping.

    The header is the first non-blank row within the first MAX_BANNER_ROWS + 1 non-blank rows that
    names every required field; failing that, the error names what is missing.
    """
    best: tuple[int, int, dict[str, int]] | None = None
    seen = 0
    for i, cells in enumerate(records):
        if _is_blank(cells):
            continue
        seen += 1
        mapping = _match_header(cells, spec)
        if mapping and not _missing_required(mapping, spec):
            return i, mapping
        if best is None or len(mapping) > best[1]:
            best = (i, len(mapping), mapping)
        if seen > MAX_BANNER_ROWS:
            break
    if best is None or best[1] < 1:
        raise ExtractFileError(
            file, f"未找到表头:前{MAX_BANNER_ROWS + 1}个非空行中没有“姓名”“身份证号”等列名"
        )
    missing = _missing_required(best[2], spec)
    names = "、".join("或".join(f"“{spec.field(f).header}”" for f in group) for group in missing)
    raise ExtractFileError(file, f"第{best[0] + 1}行表头缺少必需的列{names}")


def _check_duplicate_headers(header: list[str], mapping: dict[str, int], file: str) -> None:
    folded = [fold_header(h) for h in header]
    for fname, col in mapping.items():
        dups = [i for i, h in enumerate(folded) if h == folded[col] and i != col]
        if dups:
            cols = "、".join(_col_letter(i) for i in [col] + dups)
            raise ExtractFileError(
                file, f"表头“{header[col].strip()}”重复出现在第{cols}列,无法确定使用哪一列,请删除多余的列"
            )


def _col_letter(index: int) -> str:
    s, n = "", index + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def _is_total_row(cells: list[str]) -> bool:
    for c in cells:
        c = fold_header(c)
        if c:
            return c.startswith(TOTAL_ROW_MARKERS)
    return False


# ---- assembling the data rows -----------------------------------------------------------------


def _transpose(grid: list[list[str]], row_lengths: list[int]) -> list[list[str]]:
    """The grid's columns, short rows padded with '' (as `zip_longest(*grid, fillvalue="")`).

    One flat list sliced per column: C-speed copies, where zip_longest advances one iterator per
    row for every cell.
    """
    width = max(row_lengths)
    if width == 0:
        return []
    if min(row_lengths) != width:
        grid = [row if len(row) == width else [*row, *[""] * (width - len(row))] for row in grid]
    flat = list(itertools.chain.from_iterable(grid))
    return [flat[i::width] for i in range(width)]


def _frame_from_grid(
    grid: list[list[str]],
    mapping: dict[str, int],
    spec: SourceSpec,
    header_width: int | None = None,
    ragged: list[int] | None = None,
) -> pl.DataFrame:
    """Data rows → canonical text columns + __row, skipping blank and 合计 rows (not counted).

    With `header_width`, the numbers of data rows with more or fewer cells than the header are
    appended to `ragged` (a comma inside an unquoted cell shifts every later column).
    Column-wise: the grid is transposed in C (`_transpose`) and every test is a polars expression,
    so a million rows cost no Python loop.
    """
    if not grid:
        frame = pl.DataFrame({f: pl.Series(f, [], dtype=pl.String) for f in mapping})
        return frame.with_columns(pl.Series(ROW_COLUMN, [], dtype=pl.Int32))
    row_lengths = list(map(len, grid))
    lengths = pl.Series("__len", row_lengths, dtype=pl.Int32)
    columns = _transpose(grid, row_lengths)
    width = max(len(columns), max(mapping.values()) + 1)
    names = [f"c{i}" for i in range(width)]
    data = {
        name: pl.Series(name, columns[i] if i < len(columns) else [""] * len(grid), dtype=pl.String)
        for i, name in enumerate(names)
    }
    frame = pl.DataFrame(data).with_columns(lengths).with_row_index("__pos")
    # Every total marker (合计, 总计, 小计) contains 计: only rows holding one are looked at closely.
    maybe_total = frame.filter(pl.any_horizontal(pl.col(n).str.contains("计", literal=True) for n in names))
    total_pos = [
        pos for pos, *cells in maybe_total.select("__pos", *names).iter_rows() if _is_total_row(cells)
    ]
    is_total = pl.col("__pos").is_in(total_pos)
    is_blank = pl.all_horizontal(
        [pl.col(f"c{c}").fill_null("").str.strip_chars() == "" for c in mapping.values()]
    )
    frame = frame.filter(~is_total & ~is_blank).drop("__pos").with_row_index(ROW_COLUMN, offset=1)
    if ragged is not None and header_width is not None:
        ragged.extend(frame.filter(pl.col("__len") != header_width)[ROW_COLUMN].to_list())
    return frame.select(
        *[
            pl.when(pl.col(f"c{c}") != "").then(pl.col(f"c{c}")).alias(f)
            for f, c in mapping.items()
        ],
        pl.col(ROW_COLUMN).cast(pl.Int32),
    )


@contextlib.contextmanager
def _gc_paused():
    """The cyclic garbage collector off while a file becomes millions of small lists and strings.

    Those hold no reference cycles, so nothing is left for the collector; but every 700 new lists
    it would walk the young ones, and the old ones again and again as the grid grows (a third of
    the CSV parsing time). Switched back on at the end (if it was on), even on an error.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_extract_file(path: str | Path, source: str) -> ExtractFile:
    """Read one extract file into text cells under canonical names, numbered per EXTRACTS.md."""
    with _gc_paused():
        return _read_extract_file(Path(path), source)


def _read_extract_file(path: Path, source: str) -> ExtractFile:
    spec = SPECS[source]
    if not path.exists():
        raise ExtractFileError(path.name, "不存在")
    if path.suffix.lower() in OTHER_SPREADSHEET_EXTENSIONS:
        raise ExtractFileError(
            path.name,
            f"是{path.suffix}格式,本系统只接收CSV和Excel工作簿(.xlsx);"
            "请在Excel中打开后“另存为”Excel工作簿(.xlsx)或CSV",
        )
    warnings: list[str] = []
    if path.suffix.lower() == ".xlsx":
        merged: list[tuple[int, int, int, int]] = []
        grid = read_xlsx_grid(path, warnings, merged)
        encoding = "xlsx"
        head = grid[: MAX_BANNER_ROWS * 4 + 20]
        try:
            h, mapping = find_header(head, spec, path.name)
        except ExtractFileError as exc:
            raise ExtractFileError(path.name, exc.problem + _other_sheets_hint(path)) from exc
        if fill_merged_down(grid, merged, h):
            warnings.append(f"文件“{path.name}”数据区有合并单元格,已把合并的内容填到所跨的每一行")
        header = [c or "" for c in grid[h]]
        body = grid[h + 1:]
        header_row = h + 1
    else:
        data = path.read_bytes()
        if not data.strip():
            raise ExtractFileError(path.name, "是空文件(没有任何内容)")
        _refuse_disguised_csv(data, path.name)
        text, encoding = decode_csv_bytes(data, path.name, warnings)
        head, line_ends = _head_records_csv(text, MAX_BANNER_ROWS * 4 + 20, path.name)
        h, mapping = find_header(head, spec, path.name)
        header = head[h]
        header_row = line_ends[h]
        body = _csv_body(text, line_ends[h], path.name)
    _check_duplicate_headers(header, mapping, path.name)
    ragged: list[int] = []
    frame = _frame_from_grid(body, mapping, spec, None if encoding == "xlsx" else len(header), ragged)
    if ragged:
        shown = "、".join(str(n) for n in ragged[:10]) + ("等" if len(ragged) > 10 else "")
        warnings.append(
            f"文件“{path.name}”有{len(ragged)}行数据的列数与表头({len(header)}列)不一致(第{shown}条数据),"
            "多出的列已忽略、缺少的列按空值处理;请核对这些行是否错位(如某个单元格内含未加引号的逗号)"
        )
    if frame.height == 0:
        warnings.append(f"文件“{path.name}”只有表头,没有数据行")
    return ExtractFile(
        path=path,
        source=source,
        encoding=encoding,
        header_row=header_row,
        columns={f: (header[c] or "").strip() for f, c in mapping.items()},
        rows=frame,
        raw_headers=[(c or "").strip() for c in header],
        sha256=file_sha256(path),
        warnings=warnings,
    )


def _refuse_disguised_csv(data: bytes, file: str) -> None:
    """A workbook or web page renamed to .csv: say what it really is."""
    if data.startswith(b"PK\x03\x04"):
        raise ExtractFileError(file, "实际是Excel工作簿(XLSX),只是扩展名被改成了.csv;请把扩展名改回.xlsx")
    if data.startswith(_CFB_MAGIC):
        raise ExtractFileError(file, "实际是旧版Excel(.xls)或加密的文件,不是CSV;请在Excel中打开后另存为CSV或Excel工作簿(.xlsx)")
    head = data[:4096].lstrip(codecs.BOM_UTF8 + b" \t\r\n").lower()
    if head.startswith((b"<html", b"<!doctype", b"<table", b"<meta", b"<?xml")):
        raise ExtractFileError(file, "实际是网页(HTML)或XML格式,不是CSV;请在Excel中打开后另存为CSV或Excel工作簿(.xlsx)")


def _unclosed_quote_line(text: str, skip_lines: int) -> int:
    """The physical line where the record with the unclosed quote starts (error path only)."""
    stream = io.StringIO(text, newline="")
    for _ in range(skip_lines):
        stream.readline()
    reader = csv.reader(stream, strict=True)
    started = skip_lines + 1
    try:
        for _rec in reader:
            started = skip_lines + reader.line_num + 1
    except csv.Error:
        pass
    return started


def _csv_body(text: str, skip_lines: int, file: str) -> list[list[str]]:
    """The records after the header line(s). csv keeps quoted fields (IDs, commas) intact.

    A quote opened and never closed would swallow every later row into one cell: that is an error
    naming the line, never a silent loss of rows.
    """
    stream = io.StringIO(text, newline="")
    for _ in range(skip_lines):
        stream.readline()
    reader = csv.reader(stream, strict=True)
    try:
        return list(reader)
    except csv.Error as exc:
        if "end of data" in str(exc) or "EOF" in str(exc):
            raise ExtractFileError(
                file,
                f"第{_unclosed_quote_line(text, skip_lines)}行有未闭合的引号(\"),其后的所有行都会被并入一个单元格;"
                "请检查该行的引号后重新导出",
            ) from exc
        # Other irregular quoting (`"ab"c`) is read leniently, as Excel does.
        stream = io.StringIO(text, newline="")
        for _ in range(skip_lines):
            stream.readline()
        try:
            return list(csv.reader(stream))
        except csv.Error as exc2:
            raise ExtractFileError(file, f"CSV格式错误:{exc2}") from exc2

"""Reading department extract files (EXTRACTS.md): find the files, detect encoding, find the header
row under the banner rows, map headers through the aliases, number the data rows.

Every cell stays text here. Pure library: raises `ExtractFileError` with a Chinese message naming
the file (and column) when a file cannot be used.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matchers.contract import (
    HEADER_SEARCH_ROWS,
    QUARTER_PATTERN,
    SOURCES,
    SPECS,
    TOTAL_ROW_MARKERS,
    SourceSpec,
    fold_header,
)
from matchers.extract_csv import _decode_by_line, csv_body, decode_csv_bytes, head_records_csv, read_csv_text
from matchers.extract_errors import ExtractFileError, column_name
from matchers.extract_header import check_duplicate_headers, find_header
from matchers.extract_xlsx import fill_merged_down, other_sheets_hint, read_xlsx_grid
from matchers.read_limits import ReadLimits, read_limits, refusal

__all__ = [  # the reader's interface; the CSV and XLSX halves live in extract_csv / extract_xlsx
    "ExtractFile", "ExtractFileError", "decode_csv_bytes", "file_sha256", "find_header", "list_quarters",
    "read_extract_file", "read_xlsx_grid", "source_files", "_decode_by_line",
]

EXTENSIONS = (".csv", ".xlsx")
# Spreadsheets a department may send instead: picked up as the source's files so the run fails
# with a message saying what to do, instead of treating the department as late.
OTHER_SPREADSHEET_EXTENSIONS = (".xls", ".xlsm", ".xlsb", ".et", ".ods")
ROW_COLUMN = "__row"  # 1-based data row index (EXTRACTS.md "Row identity")
FILE_COLUMN = "__file"


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
        # A link is listed whatever it points at: one leading out of the folder is refused by
        # `read_extract_file`, never followed.
        if not (p.is_symlink() or p.is_file()) or p.name.startswith((".", "~$")):
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


def link_outside_folder(path: Path) -> bool:
    """True when `path` is a symbolic link whose target is not inside the folder holding it."""
    if not path.is_symlink():
        return False
    folder = path.parent.resolve()
    return not path.resolve().is_relative_to(folder)


OUTSIDE_LINK = "是指向季度文件夹以外的链接(快捷方式),为安全起见不读取;请把文件本身复制到季度文件夹"


def file_sha256(path: Path) -> str:
    """The content hash; of a link leading out of its folder, the hash of the link text (its
    target is never read)."""
    h = hashlib.sha256()
    if link_outside_folder(path):
        h.update(str(path.readlink()).encode("utf-8", "surrogateescape"))
        return h.hexdigest()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def read_extract_file(path: str | Path, source: str, limits: ReadLimits | None = None) -> ExtractFile:
    """Read one extract file into text cells under canonical names, numbered per EXTRACTS.md,
    within the read limits (the environment's when not given)."""
    path = Path(path)
    try:
        with _gc_paused():
            return _read_extract_file(path, source, limits or read_limits())
    except OSError as exc:
        raise ExtractFileError(path.name, _os_problem(exc)) from exc
    except MemoryError as exc:
        raise ExtractFileError(path.name, "太大,本机内存不足以读取;请拆分文件后重新导出") from exc


def _os_problem(exc: OSError) -> str:
    """What the system said when a file could not be read, in words an officer can pass on."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "没有读取权限,请管理员检查该文件的权限"
    if exc.errno == errno.EISDIR:
        return "是文件夹,不是文件"
    if exc.errno == errno.ENOENT:
        return "读取时已不存在(可能被移走或改名)"
    return f"读取时出错(系统错误码{exc.errno}),请确认文件完好后重新放入季度文件夹"


@dataclass
class _Grid:
    """A file's rows as text before they become a frame: header, body and where they were."""

    encoding: str
    header: list[str]
    header_row: int  # 1-based physical row of the header
    mapping: dict[str, int]
    body: list


def _read_extract_file(path: Path, source: str, limits: ReadLimits) -> ExtractFile:
    spec = SPECS[source]
    if link_outside_folder(path):
        raise ExtractFileError(path.name, OUTSIDE_LINK)
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
        grid = _xlsx_grid(path, spec, limits, warnings)
    else:
        grid = _csv_grid(path, spec, limits, warnings)
    header, mapping = grid.header, grid.mapping
    check_duplicate_headers(header, mapping, path.name, grid.header_row)
    ragged: list[int] = []
    frame = _frame_from_grid(grid.body, mapping, spec, None if grid.encoding == "xlsx" else len(header), ragged)
    _refuse_long_cells(frame, grid, limits, path.name)
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
        encoding=grid.encoding,
        header_row=grid.header_row,
        columns={f: (header[c] or "").strip() for f, c in mapping.items()},
        rows=frame,
        raw_headers=[(c or "").strip() for c in header],
        sha256=file_sha256(path),
        warnings=warnings,
    )


def _refuse_long_cells(frame: pl.DataFrame, grid: _Grid, limits: ReadLimits, file: str) -> None:
    """A used cell longer than the cell limit (an XLSX may hold one; csv refuses them itself)."""
    lengths = frame.select(pl.col(f).str.len_chars().max() for f in grid.mapping).row(0) if frame.height else ()
    for (fname, col), longest in zip(grid.mapping.items(), lengths):
        if longest is not None and longest > limits.max_cell_chars:
            row = frame.filter(pl.col(fname).str.len_chars() == longest)[ROW_COLUMN][0]
            where = f"第{row}条数据{column_name(col, grid.header)}的单元格长{longest:,}个字符"
            raise ExtractFileError(file, refusal("max_cell_chars", limits, where))


def _xlsx_grid(path: Path, spec: SourceSpec, limits: ReadLimits, warnings: list[str]) -> _Grid:
    """The first sheet's header and body; rows below the header keep only the columns it uses."""
    found: dict[str, object] = {}

    def keep_width(head: list) -> tuple[int, int]:
        try:
            h, mapping = find_header(head, spec, path.name)
        except ExtractFileError as exc:
            raise ExtractFileError(path.name, exc.problem + other_sheets_hint(path)) from exc
        found.update(h=h, mapping=mapping)
        return h, max(mapping.values()) + 1

    merged: list[tuple[int, int, int, int]] = []
    grid = read_xlsx_grid(path, warnings, merged, limits=limits, keep_width=keep_width)
    h, mapping = found["h"], found["mapping"]
    if fill_merged_down(grid, merged, h, max(mapping.values()) + 1):
        warnings.append(f"文件“{path.name}”数据区有合并单元格,已把合并的内容填到所跨的每一行")
    header = [c or "" for c in grid[h]]
    return _Grid("xlsx", header, h + 1, mapping, grid[h + 1:])


def _csv_grid(path: Path, spec: SourceSpec, limits: ReadLimits, warnings: list[str]) -> _Grid:
    text, encoding = read_csv_text(path, limits, warnings)
    head, line_ends = head_records_csv(text, HEADER_SEARCH_ROWS, path.name, limits)
    h, mapping = find_header(head, spec, path.name, line_ends)
    header = head[h]
    body = csv_body(text, line_ends[h], path.name, limits, header)
    return _Grid(encoding, header, line_ends[h], mapping, body)

"""The rows of a returned verification workbook (核查名单), read with openpyxl and bounded: at most
MAX_IMPORT_COLUMNS columns and MAX_IMPORT_ROWS rows a sheet, whatever the sheet claims. A decision
cell holding a formula whose result was never saved is marked, not read as empty.

Pure library: no Dagster.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from matchers.privacy import mask_ids_in_text

from .columns import COL_DECISION, COL_FLAG_ID, COL_NOTE, COL_REVIEWER, INFO_SHEET

# Columns read per row: the workbook has 15; a stray cell far to the right costs nothing.
MAX_IMPORT_COLUMNS = 64
# Rows read per sheet: far above any district's list; beyond it the file is refused.
MAX_IMPORT_ROWS = 500_000
HEADER_SEARCH_ROWS = 6

XLS_ADVICE = (
    "这是旧版 Excel(.xls)文件,本系统只能导入 .xlsx:请用 Excel 或 WPS 打开它,"
    "选择“文件 → 另存为”,保存类型选“Excel 工作簿(*.xlsx)”,再导入另存的文件"
)

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # how every .xls file starts
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class WorkbookError(ValueError):
    """The file cannot be read as a returned 核查名单 (message in Chinese, naming the file)."""


def clean_reviewer(name: object) -> str | None:
    """A reviewer's name as stored: control and invisible formatting characters removed, spaces
    trimmed; None when nothing is left."""
    if name is None:
        return None
    text = _CONTROL.sub("", unicodedata.normalize("NFKC", str(name))).strip()
    return text or None


def _norm_decision(value: object) -> str:
    if value is None:
        return ""
    return "".join(ch for ch in unicodedata.normalize("NFKC", str(value)) if not ch.isspace())


def _norm_text(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _open(path: Path, data_only: bool):
    import openpyxl  # only the import reads workbooks: the export never loads openpyxl

    return openpyxl.load_workbook(path, read_only=True, data_only=data_only)


def _header(ws) -> tuple[int, dict[str, int]] | None:
    """(1-based header row, column index per wanted header) of a sheet, or None."""
    wanted = {_norm_decision(h): h for h in (COL_FLAG_ID, COL_DECISION, COL_NOTE, COL_REVIEWER)}
    flag_key = _norm_decision(COL_FLAG_ID)
    rows = ws.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, max_col=MAX_IMPORT_COLUMNS, values_only=True)
    for r_idx, row in enumerate(rows, start=1):
        found: dict[str, int] = {}
        for c_idx, cell in enumerate(row):
            key = _norm_decision(cell)
            if key.startswith("核查编号"):  # with or without "(请勿修改)"
                key = flag_key
            if key in wanted and wanted[key] not in found:
                found[wanted[key]] = c_idx
        if COL_FLAG_ID in found and COL_DECISION in found:
            return r_idx, found
    return None


def _sheet_rows(ws, formulas_ws, path: Path) -> list[dict] | None:
    """The non-blank data rows of one sheet (None: the sheet has no 核查编号 and 核查结论 header);
    `formulas_ws` is the same sheet read without cached values, to tell a formula decision whose
    result was never saved from an empty one."""
    found = _header(ws)
    if found is None:
        return None
    header_at, cols = found
    width = min(max(cols.values()) + 1, MAX_IMPORT_COLUMNS)
    values = ws.iter_rows(min_row=header_at + 1, max_col=width, values_only=True)
    formulas = formulas_ws.iter_rows(min_row=header_at + 1, max_col=width, values_only=True)
    out = []
    for r_idx, (row, formula_row) in enumerate(zip(values, formulas), start=header_at + 1):
        if r_idx - header_at > MAX_IMPORT_ROWS:
            raise WorkbookError(
                f"{shown_name(path)}:工作表“{ws.title}”超过 {MAX_IMPORT_ROWS} 行(导入上限),不是本系统导出的核查名单"
            )

        def cell(name: str, r=row):
            i = cols.get(name)
            return r[i] if i is not None and i < len(r) else None

        flag_id, decision = _norm_text(cell(COL_FLAG_ID)), cell(COL_DECISION)
        note, reviewer = _norm_text(cell(COL_NOTE)), clean_reviewer(cell(COL_REVIEWER))
        formula = cell(COL_DECISION, formula_row)
        uncached = decision is None and isinstance(formula, str) and formula.startswith("=")
        if flag_id is None and _norm_decision(decision) == "" and note is None and reviewer is None and not uncached:
            continue  # blank row
        out.append({
            "sheet": ws.title, "row": r_idx, "flag_id": flag_id, "decision": _norm_decision(decision),
            "raw_decision": decision, "note": note, "reviewer": reviewer, "uncached_formula": uncached,
        })
    return out


def shown_name(path: Path) -> str:
    """A file's name as messages show it: any ID-shaped run in it masked."""
    return mask_ids_in_text(path.name)


def _is_old_excel(path: Path) -> bool:
    """An .xls by its name or by its content (an OLE2 file renamed to .xlsx)."""
    if path.suffix.lower() == ".xls":
        return True
    with path.open("rb") as fh:
        return fh.read(len(_OLE2_MAGIC)) == _OLE2_MAGIC


def read_rows(path: Path) -> list[dict]:
    """Every non-blank data row of every sheet with a 核查编号 and a 核查结论 column."""
    if _is_old_excel(path):
        raise WorkbookError(f"{shown_name(path)}:{XLS_ADVICE}")
    try:
        wb, formulas = _open(path, True), _open(path, False)
    except Exception as exc:  # not an xlsx, corrupt zip, broken XML
        raise WorkbookError(
            f"{shown_name(path)}:无法作为 Excel 工作簿(.xlsx)打开,文件可能已损坏或不是 Excel 文件"
        ) from exc
    rows: list[dict] = []
    seen_sheet = False
    try:
        for ws in wb.worksheets:
            sheet_rows = None if ws.title == INFO_SHEET else _sheet_rows(ws, formulas[ws.title], path)
            seen_sheet = seen_sheet or sheet_rows is not None
            rows += sheet_rows or []
    except WorkbookError:
        raise
    except Exception as exc:  # broken sheet XML found while reading rows
        raise WorkbookError(
            f"{shown_name(path)}:工作表内容无法读取,文件可能已损坏,请重新保存为 .xlsx 后再导入"
        ) from exc
    finally:
        wb.close()
        formulas.close()
    if not seen_sheet:
        raise WorkbookError(
            f"{shown_name(path)}:没有找到含“{COL_FLAG_ID}”和“{COL_DECISION}”列的工作表,不是本系统导出的核查名单"
        )
    return rows

"""The one place the workbench calls the district workbook code (matchers/reports/workbooks.py).

Download builds a district's 核查名单 exactly as the quarterly export does, from the warehouse copy
the pages read. Upload validates and records a filled one with the same function `make
import-reviews` uses. When that code is split into "read and validate" and "record", only this
module changes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from matchers.reports import workbooks
from matchers.reports._io import frame
from matchers.reports.labels import UNASSIGNED_DISTRICT, rule_family

ImportResult = workbooks.ImportResult
WorkbookError = workbooks.WorkbookError


def workbook_name(quarter: str, district: str) -> str:
    return workbooks.workbook_path(Path("."), quarter, district).name


def build(con: duckdb.DuckDBPyConnection, quarter: str, district: str) -> tuple[bytes, int]:
    """The district's 核查名单 of the quarter (IDs masked) and its number of flags."""
    rows = frame(con, workbooks.EXPORT_SQL,
                 {"quarter": quarter, "unassigned": UNASSIGNED_DISTRICT, "districts": [district]})
    rows = rows.with_columns(pl.col("rule_code").map_elements(rule_family, return_dtype=pl.String).alias("family"))
    return workbooks._build_workbook(quarter, district, rows, datetime.now()), rows.height


def identity(path: Path) -> tuple[str, str]:
    """(quarter, district) a filled workbook says it is for; WorkbookError when it is no 核查名单."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise WorkbookError(f"{path.name}:无法作为 Excel 工作簿打开({type(exc).__name__})") from exc
    try:
        return workbooks._workbook_identity(wb, path)
    finally:
        wb.close()


def record(con: duckdb.DuckDBPyConnection, path: Path, reviewer: str) -> ImportResult:
    """Validate the filled workbook and append its decisions to `reviews` (as `make import-reviews`)."""
    return workbooks.import_reviews(con, path, reviewer=reviewer)

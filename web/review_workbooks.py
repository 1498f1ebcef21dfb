"""The one place the workbench calls the district workbook code (matchers/reports/).

Download builds a district's 核查名单 exactly as the quarterly export does, from the warehouse copy
the pages read, and is recorded like an export (`export_workbook` with its flag IDs), so that the
import accepts the file when it comes back. Upload validates a filled one with the import's own
reader (`read_returned_workbook`: district and flags from the export record, never from a cell)
and records it with `record_decisions`, as `make import-reviews` does.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from matchers.contract import WUHAN_DISTRICTS
from matchers.reports import workbooks
from matchers.reports._io import frame
from matchers.reports.columns import ACTION_EXPORT, workbook_name
from matchers.reports.labels import UNASSIGNED_DISTRICT, rule_family
from matchers.reports.returned_rows import WorkbookError
from matchers.reports.review_import import ImportReport, read_returned_workbook, record_decisions

__all__ = ["ACTION_EXPORT", "ImportReport", "WorkbookError", "build", "record", "workbook_name"]


def build(con: duckdb.DuckDBPyConnection, quarter: str, district: str) -> tuple[bytes, list[str], dict[str, int]]:
    """The district's 核查名单 of the quarter (IDs masked), its flag IDs and its flags per rule."""
    rows = frame(con, workbooks.EXPORT_SQL, {"quarter": quarter, "unassigned": UNASSIGNED_DISTRICT,
                                             "districts": list(WUHAN_DISTRICTS), "todo": [district]})
    rows = rows.with_columns(pl.col("rule_code").map_elements(rule_family, return_dtype=pl.String).alias("family"))
    rules = {code: n for code, n in rows.group_by("rule_code").len().iter_rows()}
    data = workbooks._build_workbook(quarter, district, rows, datetime.now())
    return data, rows.get_column("flag_id").to_list(), rules


class OtherDistrict(ValueError):
    """The returned file belongs to a district the officer is not responsible for (Chinese)."""


def record(con: duckdb.DuckDBPyConnection, path: Path, reviewer: str, district: str | None) -> ImportReport:
    """Validate the returned workbook and append its decisions to `reviews`; `district`: the only
    district the officer may decide for (None: any). Nothing is written for another district."""
    report = read_returned_workbook(con, path)
    if district is not None and report.district != district:
        raise OtherDistrict(f"文件 {path.name} 是{report.district}的核查名单,您负责的是{district},未导入任何一行。")
    return record_decisions(con, report, reviewer)

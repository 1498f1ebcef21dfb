"""The columns and sheets of a district verification workbook (核查名单), shared by its export and
its import.

The identifying columns (序号, 姓名, 身份证号) and the decision come first and are frozen, the other
fill-in columns right after them: on a laptop the name and the decision stay in sight while the
officer scrolls to the reason; on paper they print on the left of every page.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from ._io import safe_part

COL_SEQ = "序号"
COL_RULE = "规则编号"
COL_RULE_NAME = "规则名称"
COL_STREET = "街道"
COL_COMMUNITY = "社区"
COL_NAME = "姓名"
COL_ID = "身份证号"
COL_REASON = "核查原因"
COL_EVIDENCE = "数据来源"
COL_FIRST_SEEN = "首次发现"
COL_LAST_DECISION = "上次核查结论"
COL_DECISION = "核查结论"
COL_NOTE = "核查说明"
COL_REVIEWER = "核查人"
COL_FLAG_ID = "核查编号(请勿修改)"

# (header, width in characters), in sheet order: about 190 characters, printed on A4 landscape at
# about 70% (fit to the page width); long texts wrap within their column.
COLUMNS: tuple[tuple[str, int], ...] = (
    (COL_SEQ, 5),
    (COL_NAME, 8),
    (COL_ID, 18),
    (COL_DECISION, 13),
    (COL_NOTE, 18),
    (COL_REVIEWER, 7),
    (COL_LAST_DECISION, 12),
    (COL_RULE, 6),
    (COL_RULE_NAME, 14),
    (COL_REASON, 36),
    (COL_STREET, 9),
    (COL_COMMUNITY, 9),
    (COL_EVIDENCE, 16),
    (COL_FIRST_SEEN, 8),
    (COL_FLAG_ID, 17),
)
HEADERS: tuple[str, ...] = tuple(h for h, _ in COLUMNS)
INPUT_COLUMNS = (COL_DECISION, COL_NOTE, COL_REVIEWER)
FROZEN_COLUMNS = HEADERS.index(COL_DECISION) + 1  # 序号 … 核查结论 stay in sight
TITLE_ROW, HEADER_ROW = 0, 1  # 0-based rows in the sheet; data starts under the header
INFO_SHEET = "填写说明"
INFO_QUARTER, INFO_DISTRICT = "季度", "区"
WORKBOOK_NAME = re.compile(r"核查名单_(\d{4}Q[1-4])_(.+?)\.xlsx$")

ACTION_EXPORT, ACTION_IMPORT = "export_workbook", "import_workbook"

LINE_HEIGHT, MIN_ROW_HEIGHT = 13.0, 15.0  # points, for the 10 pt cell font
MAX_ROW_LINES = 8  # a longer text (a flag resting on many source rows) shows its first lines


def row_heights(texts: pl.DataFrame) -> pl.Series:
    """The height (points) of each data row, so that the longest wrapped text of the row shows
    whole on screen and on paper (up to MAX_ROW_LINES lines): its lines are its width (a Chinese
    character counts two) over the column's width. `texts`: the sheet's rows, one String column
    per header."""
    widths = dict(COLUMNS)
    lines = [
        ((pl.col(h).str.len_chars() + pl.col(h).str.count_matches(r"[^\x00-\x7f]")) / max(widths[h] - 1, 1))
        .ceil().fill_null(1)
        for h in texts.columns if h in widths and texts.schema[h] == pl.String
    ]
    if not lines:
        return pl.Series([MIN_ROW_HEIGHT] * texts.height, dtype=pl.Float64)
    return texts.select(
        pl.max_horizontal(pl.max_horizontal(lines).clip(1, MAX_ROW_LINES) * LINE_HEIGHT + 2, pl.lit(MIN_ROW_HEIGHT))
        .alias("h")
    ).to_series()


def workbook_name(quarter: str, district: str) -> str:
    """The file name of a district's workbook; WORKBOOK_NAME reads it back."""
    return f"核查名单_{quarter}_{safe_part(district)}.xlsx"


def workbooks_glob(quarter: str) -> str:
    """The names of every district's workbook of `quarter` (workbook_name), as a glob pattern."""
    return f"核查名单_{quarter}_*.xlsx"


def workbook_path(exports_dir: Path | str, quarter: str, district: str) -> Path:
    return Path(exports_dir) / quarter / workbook_name(quarter, district)

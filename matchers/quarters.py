"""Quarters (`2026Q3`): parsing, their dates, and which earlier quarter a step compares with.

The one home for quarter arithmetic. Two different "previous quarters" exist and are named for
what they mean:
- `previous_quarter_with_rows`: the latest earlier quarter that has rows in a given table (the
  asset checks compare a quarter's counts with it);
- `previous_compared_quarter`: the latest earlier quarter the rules can compare with (published,
  or whose disability extract was staged for R04).
"""

from __future__ import annotations

import datetime as dt

from matchers.contract import QUARTER_PATTERN


def parse_quarter(quarter: str) -> tuple[int, int]:
    """(year, quarter number) of `2026Q3`; a ValueError in Chinese for anything else."""
    m = QUARTER_PATTERN.match(quarter or "")
    if not m:
        raise ValueError(f"季度格式应为 2026Q3 这样的形式,收到“{quarter}”")
    return int(m.group(1)), int(m.group(2))


def quarter_end(quarter: str) -> dt.date:
    """The last day of a quarter: 2026Q3 → 2026-09-30."""
    year, q = parse_quarter(quarter)
    if q == 4:
        return dt.date(year, 12, 31)
    return dt.date(year, 3 * q + 1, 1) - dt.timedelta(days=1)


def previous_quarter_with_rows(con, quarter: str, table: str = "stg_files", source: str | None = None) -> str | None:
    """The latest quarter before `quarter` that has rows in `table` (for `source` if given)."""
    sql = f"SELECT max(quarter) FROM {table} WHERE quarter < ?"
    params: list = [quarter]
    if source:
        sql += " AND source = ?"
        params.append(source)
    row = con.execute(sql, params).fetchone()
    return row[0] if row else None


def previous_compared_quarter(con, quarter: str) -> str | None:
    """The latest quarter before `quarter` that was published (source_records or flags) or whose
    disability extract was staged (R04 reads it even when that quarter was never compared)."""
    row = con.execute(
        """
        SELECT max(quarter) FROM (
            SELECT DISTINCT quarter FROM source_records
            UNION SELECT DISTINCT quarter FROM flags
            UNION SELECT DISTINCT quarter FROM stg_files WHERE source = 'disability'
        ) WHERE quarter < ?
        """,
        [quarter],
    ).fetchall()
    return row[0][0] if row else None

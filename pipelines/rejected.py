"""`make rejected QUARTER=2026Q3`: the rows a quarter's run refused, with file, row and reason.

Read-only on the warehouse; IDs in the reasons are masked. At most `--limit` rows are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from matchers.contract import SOURCE_LABELS
from matchers.privacy import mask_ids_in_text

DEFAULT_LIMIT = 200


def rejected_lines(con, quarter: str, limit: int = DEFAULT_LIMIT) -> tuple[int, list[str]]:
    """(rows refused in the quarter, one Chinese line for each of the first `limit`)."""
    (total,) = con.execute("SELECT count(*) FROM rejected_rows WHERE quarter = ?", [quarter]).fetchone()
    rows = con.execute(
        "SELECT source, source_file, source_row, reason FROM rejected_rows WHERE quarter = ? "
        "ORDER BY source, source_file, source_row LIMIT ?",
        [quarter, limit],
    ).fetchall()
    lines = [
        f"{SOURCE_LABELS.get(src, src)} 文件“{file}”第 {row} 行数据:{mask_ids_in_text(reason or '')}"
        for src, file, row, reason in rows
    ]
    return int(total), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="列出某季度拒收的行(文件、行号、原因)")
    parser.add_argument("--quarter", default=os.environ.get("QUARTER") or None, help="季度,例如 2026Q3")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="最多列出的行数")
    args = parser.parse_args(argv)
    if not args.quarter:
        print("用法: make rejected QUARTER=2026Q3", file=sys.stderr)
        return 2

    import duckdb

    from assets.resources import default_warehouse_path

    path = default_warehouse_path()
    if not Path(path).exists():
        print(f"错误:仓库文件 {path} 不存在,请先运行 make run。", file=sys.stderr)
        return 2
    con = duckdb.connect(path, read_only=True)
    try:
        total, lines = rejected_lines(con, args.quarter, args.limit)
    finally:
        con.close()
    print(f"季度 {args.quarter} 共拒收 {total} 行" + (f",以下列出前 {len(lines)} 行:" if total > len(lines) else ":"))
    for line in lines:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

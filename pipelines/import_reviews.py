"""Import a filled district verification workbook (核查名单) into `reviews`.

    python -m pipelines.import_reviews 核查名单_2026Q3_江夏区.xlsx [--reviewer 张三] [--warehouse PATH]

Exit status: 0 every filled row applied (or already recorded), 1 some rows could not be applied
(listed), 2 the file could not be read.
"""

from __future__ import annotations

import argparse
import sys

from assets.resources import default_warehouse_path
from matchers import warehouse
from matchers.reports.workbooks import WorkbookError, import_reviews


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.import_reviews",
        description="导入区县填写后的核查名单,把核查结论写入 reviews 表(只追加,不修改已有结论)。",
    )
    parser.add_argument("file", help="填写后的核查名单(.xlsx)")
    parser.add_argument("--reviewer", help="核查人(表中“核查人”一栏为空时使用)")
    parser.add_argument("--warehouse", default=None, help="数据库文件,默认取环境变量 WAREHOUSE_PATH")
    args = parser.parse_args(argv)

    path = args.warehouse or default_warehouse_path()
    lock = warehouse.WriterLock(path)  # wait for a running comparison job to finish writing
    try:
        lock.acquire(wait_seconds=120, holder="import_reviews")
    except warehouse.WarehouseBusy as exc:
        print(f"导入失败:{exc}", file=sys.stderr)
        return 2
    try:
        return _import(path, args)
    finally:
        lock.release()


def _import(path: str, args) -> int:
    try:
        con = warehouse.connect(path)
    except Exception as exc:
        print(f"无法打开数据库 {path}:{exc}", file=sys.stderr)
        return 2
    try:
        result = import_reviews(con, args.file, reviewer=args.reviewer)
    except (WorkbookError, ValueError, FileNotFoundError) as exc:
        print(f"导入失败:{exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    print(result.summary())
    if result.problems:
        print("以上各行未导入,请更正后重新导入同一文件(已导入的行不会重复写入)。")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

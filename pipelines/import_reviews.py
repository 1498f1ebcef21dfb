"""Import a filled district verification workbook (核查名单) into `reviews`.

    python -m pipelines.import_reviews 核查名单_2026Q3_江夏区.xlsx [--reviewer 张三] [--warehouse PATH]
    FILE=… REVIEWER=… python -m pipelines.import_reviews --from-env     (what `make import-reviews` runs)

`--from-env` takes the file and the reviewer from the environment variables FILE and REVIEWER, so
`make import-reviews FILE=… REVIEWER=…` hands them over without any shell reading them.

Exit status: 0 every filled row recorded (or already recorded), 1 some rows could not be recorded
(listed, at most the first 50), 2 the file or the warehouse could not be read (nothing recorded).
"""

from __future__ import annotations

import argparse
import os
import sys

from assets.resources import default_warehouse_path
from matchers import warehouse
from matchers.reports.review_import import WorkbookError, read_returned_workbook, record_decisions

USAGE = "用法: make import-reviews FILE=填写后的核查名单.xlsx [REVIEWER=核查人]"
EXIT_PARTIAL, EXIT_UNREADABLE = 1, 2


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.import_reviews",
        description="导入区县填写后的核查名单,把核查结论写入 reviews 表(只追加,不修改已有结论)。",
    )
    parser.add_argument("file", nargs="?", help="填写后的核查名单(.xlsx)")
    parser.add_argument("--reviewer", help="核查人(表中“核查人”一栏为空时使用)")
    parser.add_argument("--warehouse", default=None, help="数据库文件,默认取环境变量 WAREHOUSE_PATH")
    parser.add_argument("--from-env", action="store_true", help="从环境变量 FILE、REVIEWER 读取文件和核查人")
    args = parser.parse_args(argv)
    if args.from_env:
        args.file = args.file or os.environ.get("FILE") or None
        args.reviewer = args.reviewer or os.environ.get("REVIEWER") or None
    return args


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if not args.file:
        print(USAGE, file=sys.stderr)
        return EXIT_UNREADABLE
    path = args.warehouse or default_warehouse_path()
    lock = warehouse.WriterLock(path)  # wait for a running comparison job to finish writing
    try:
        lock.acquire(wait_seconds=120, holder="import_reviews")
    except warehouse.WarehouseBusy as exc:
        print(f"导入失败:{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        return _import(path, args)
    finally:
        lock.release()


def _import(path: str, args: argparse.Namespace) -> int:
    try:
        con = warehouse.connect(path)
    except Exception as exc:
        print(f"无法打开数据库 {path}:{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        report = record_decisions(con, read_returned_workbook(con, args.file), args.reviewer)
    except (WorkbookError, ValueError) as exc:
        print(f"导入失败,未写入任何核查结论:{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    finally:
        con.close()
    print(report.summary())
    if report.problems:
        print("以上各行未导入,请更正后重新导入同一文件(已导入的行不会重复写入)。")
        return EXIT_PARTIAL
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make run`: run the quarterly comparison job for one quarter through Dagster.

The run is recorded in DAGSTER_HOME (the project's .dagster_home by default), so it shows in the
UI's run history. Prints a short Chinese summary; exits non-zero when the run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _prepare_environment() -> None:
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="运行季度比对作业")
    parser.add_argument("--quarter", help="季度文件夹名,例如 2026Q3;默认取最新的季度")
    args = parser.parse_args(argv)
    _prepare_environment()

    from dagster import DagsterInstance

    from assets.partitions import QUARTER_PARTITIONS_NAME
    from assets.resources import default_extracts_dir, default_warehouse_path
    from matchers.extract_reader import list_quarters
    from pipelines.definitions import QUARTERLY_JOB_NAME, defs
    from pipelines.summary import print_summary

    extracts_dir = default_extracts_dir()
    quarters = list_quarters(extracts_dir)
    quarter = args.quarter or (quarters[-1] if quarters else None)
    if quarter is None:
        print(f"错误:数据目录 {extracts_dir} 下没有季度文件夹(如 2026Q3)。", file=sys.stderr)
        return 2
    if quarter not in quarters:
        print(f"错误:数据目录 {extracts_dir} 下没有季度文件夹 {quarter}。现有:{'、'.join(quarters) or '无'}", file=sys.stderr)
        return 2

    # Say it plainly, before Dagster starts, when another run is writing the warehouse.
    from matchers.warehouse import WarehouseBusy, WriterLock

    probe = WriterLock(default_warehouse_path())
    try:
        probe.acquire(wait_seconds=5)
    except WarehouseBusy as exc:
        print(f"错误:{exc}", file=sys.stderr)
        return 3
    probe.release()

    instance = DagsterInstance.get()
    if not instance.has_dynamic_partition(QUARTER_PARTITIONS_NAME, quarter):
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    print(f"开始季度比对:{quarter}(数据目录 {extracts_dir},仓库 {default_warehouse_path()})")
    job = defs.resolve_job_def(QUARTERLY_JOB_NAME)
    result = job.execute_in_process(
        instance=instance,
        partition_key=quarter,
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        tags={"trigger": "make run"},
    )
    print_summary(result, quarter, default_warehouse_path())
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())

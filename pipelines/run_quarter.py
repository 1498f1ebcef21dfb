"""`make run`: run the quarterly comparison job for one quarter through Dagster.

The run is recorded in DAGSTER_HOME (the project's .dagster_home by default), so it shows in the
UI's run history; its full log (Dagster's framing, stack traces) also goes to a file under
DAGSTER_HOME/logs. The console shows the officer's Chinese lines (`pipelines.console`) and a summary
(`pipelines.summary`); `-v` shows Dagster's own console log instead. Everything the run creates is
owner-only (umask 077). Exit codes: 0 done, 1 the run failed, 2 wrong arguments or data folder,
3 another run is writing the warehouse.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from matchers.private_files import PRIVATE_UMASK, make_tree_private, private_dir

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 1, 2, 3


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME exists, is owner-only (with everything in it) and holds the project's dagster.yaml."""
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    home = private_dir(os.environ["DAGSTER_HOME"])
    make_tree_private(home)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text((PROJECT_ROOT / "dagster.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    return home


def run_log_path(home: Path, quarter: str) -> Path:
    from pipelines.console import LOCAL_TZ

    stamp = dt.datetime.now(LOCAL_TZ).strftime("%Y%m%d-%H%M%S")
    return home / "logs" / f"make_run_{quarter}_{stamp}.log"


def run_config(verbose: bool, log_path: Path) -> dict:
    from pipelines.console import DAGSTER_LOGGER, FILE_LOGGER, OFFICER_LOGGER

    loggers = {FILE_LOGGER: {"config": {"path": str(log_path)}}}
    if verbose:
        loggers[DAGSTER_LOGGER] = {"config": {"log_level": "DEBUG"}}
    else:
        loggers[OFFICER_LOGGER] = {"config": {"log_path": str(log_path)}}
    return {"loggers": loggers}


def _chosen_quarter(requested: str | None, extracts_dir: str) -> str:
    from matchers.extract_reader import list_quarters

    quarters = list_quarters(extracts_dir)
    quarter = requested or (quarters[-1] if quarters else None)
    if quarter is None:
        raise SystemExit(f"错误:数据目录 {extracts_dir} 下没有季度文件夹(如 2026Q3)。")
    if quarter not in quarters:
        raise SystemExit(f"错误:数据目录 {extracts_dir} 下没有季度文件夹 {quarter}。现有:{'、'.join(quarters) or '无'}")
    return quarter


def _warehouse_is_free(warehouse_path: str) -> bool:
    """Say it plainly, before Dagster starts, when another run is writing the warehouse."""
    from matchers.warehouse import WarehouseBusy, WriterLock

    probe = WriterLock(warehouse_path)
    try:
        probe.acquire(wait_seconds=5)
    except WarehouseBusy as exc:
        print(f"错误:{exc}", file=sys.stderr)
        return False
    probe.release()
    return True


def run(quarter: str | None, verbose: bool) -> int:
    from dagster import DagsterInstance

    from assets.partitions import QUARTER_PARTITIONS_NAME
    from assets.resources import default_extracts_dir, default_warehouse_path
    from pipelines.console import local_time
    from pipelines.definitions import QUARTERLY_JOB_NAME, defs
    from pipelines.summary import print_summary

    extracts_dir, warehouse_path = default_extracts_dir(), default_warehouse_path()
    try:
        quarter = _chosen_quarter(quarter, extracts_dir)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    if not _warehouse_is_free(warehouse_path):
        return EXIT_BUSY
    home = prepare_dagster_home()
    log_path = run_log_path(home, quarter)
    instance = DagsterInstance.get()
    if not instance.has_dynamic_partition(QUARTER_PARTITIONS_NAME, quarter):
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    print(f"{local_time()} 开始季度比对:{quarter}(数据目录 {extracts_dir},仓库 {warehouse_path})", flush=True)
    result = defs.resolve_job_def(QUARTERLY_JOB_NAME).execute_in_process(
        instance=instance,
        partition_key=quarter,
        raise_on_error=False,
        run_config=run_config(verbose, log_path),
        tags={"trigger": "make run"},
    )
    print_summary(result, quarter, warehouse_path, log_path=str(log_path))
    return 0 if result.success else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="运行季度比对作业")
    parser.add_argument("--quarter", default=os.environ.get("QUARTER") or None,
                        help="季度文件夹名,例如 2026Q3(默认取环境变量 QUARTER,再默认取最新的季度)")
    parser.add_argument("-v", "--verbose", action="store_true", help="显示 Dagster 的完整技术日志")
    args = parser.parse_args(argv)
    os.umask(PRIVATE_UMASK)  # run storage, logs, warehouse and exports: owner-only
    try:
        return run(args.quarter, args.verbose)
    except Exception as exc:  # the run boundary: a Chinese sentence, the detail goes to a log file
        from pipelines.run_errors import officer_message

        log_path = _log_traceback()
        # errors of the steps are reported by the steps: what escapes the run comes from Dagster's
        # storage, so a full disk without a path in the error is DAGSTER_HOME's
        folders = [os.environ.get("DAGSTER_HOME", str(PROJECT_ROOT / ".dagster_home"))]
        print(f"错误:{officer_message(exc, '季度比对', fallback_folders=folders, log_path=log_path)}", file=sys.stderr)
        return EXIT_FAILED


def _log_traceback() -> str | None:
    """Append the current exception's traceback (IDs masked) to DAGSTER_HOME/logs/make_run_errors.log."""
    import traceback

    from matchers.privacy import mask_ids_in_text

    path = Path(os.environ.get("DAGSTER_HOME", PROJECT_ROOT / ".dagster_home")) / "logs" / "make_run_errors.log"
    try:
        private_dir(path.parent)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{dt.datetime.now().isoformat()}\n{mask_ids_in_text(traceback.format_exc())}\n")
    except OSError:  # the disk that failed may be this one
        return None
    return str(path)


if __name__ == "__main__":
    sys.exit(main())

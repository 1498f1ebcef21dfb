"""Nightly refresh at 02:00 Asia/Shanghai: re-run only the sources whose files changed."""

from __future__ import annotations

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from assets.partitions import QUARTER_PARTITIONS_NAME
from pipelines.console import TIMEZONE
from pipelines.jobs import all_assets, quarterly_comparison
from pipelines.refresh import current_quarter, env_extracts_dir, plan_nightly_refresh, refresh_selection

NIGHTLY_CRON = "0 2 * * *"


@schedule(
    name="nightly_refresh",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone=TIMEZONE,
    job=quarterly_comparison,
    default_status=DefaultScheduleStatus.RUNNING,
    description="每天 02:00(北京时间)刷新当前季度:只重新处理文件有变化的部门及其下游。",
)
def nightly_refresh(context: ScheduleEvaluationContext):
    from assets.resources import default_warehouse_path

    extracts_dir = env_extracts_dir()
    quarter = current_quarter(extracts_dir)
    if quarter is None:
        return SkipReason(f"数据目录 {extracts_dir} 下没有季度文件夹")
    if not context.instance.has_dynamic_partition(QUARTER_PARTITIONS_NAME, quarter):
        return SkipReason(f"{quarter} 还不是已登记的季度(新文件夹由文件监测传感器登记),跳过")
    plan = plan_nightly_refresh(extracts_dir, default_warehouse_path(), quarter)
    if not plan.has_work:
        return SkipReason(plan.message)
    context.log.info(plan.message)
    return RunRequest(
        run_key=None,
        partition_key=quarter,
        asset_selection=refresh_selection(plan, all_assets),
        tags={"refresh": "nightly", "changed_sources": ",".join(plan.changed)},
    )

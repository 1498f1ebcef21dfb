"""Watch EXTRACTS_DIR: register new quarter folders as partitions; request a refresh when files of
a quarter are added or replaced (one run per quarter per batch of changes)."""

from __future__ import annotations

import json

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from assets.partitions import QUARTER_PARTITIONS_NAME
from pipelines.jobs import all_assets, quarterly_comparison
from pipelines.refresh import RefreshPlan, env_extracts_dir, refresh_selection, scan_extracts, state_digest

SENSOR_INTERVAL_SECONDS = 60


def evaluate_extract_files(context: SensorEvaluationContext, extracts_dir: str) -> SensorResult:
    previous = json.loads(context.cursor) if context.cursor else None
    state, changes, settling = scan_extracts(extracts_dir, previous or {})
    known = set(context.instance.get_dynamic_partitions(QUARTER_PARTITIONS_NAME))
    new_quarters = [q for q in state if q not in known]
    requests = []
    for quarter in state:
        if quarter in new_quarters:
            plan = RefreshPlan(quarter, [s for s, files in state[quarter].items() if files])
        elif previous is None:
            continue  # first look at an existing folder: remember it, run nothing
        else:
            plan = RefreshPlan(quarter, changes.get(quarter, []))
        if not plan.has_work:
            continue
        requests.append(
            RunRequest(
                run_key=f"{quarter}:{state_digest(state[quarter])}",
                partition_key=quarter,
                asset_selection=refresh_selection(plan, all_assets),
                tags={"refresh": "new_files", "changed_sources": ",".join(plan.changed)},
            )
        )
        context.log.info(f"{quarter} 有新的或替换的文件:{plan.describe()},已请求刷新")
    skip = None
    if not requests:
        skip = "没有新的或替换的文件" + (f"(等待 {len(settling)} 个仍在复制的文件)" if settling else "")
    return SensorResult(
        run_requests=requests,
        skip_reason=skip,
        cursor=json.dumps(state, sort_keys=True),
        dynamic_partitions_requests=(
            [AddDynamicPartitionsRequest(QUARTER_PARTITIONS_NAME, new_quarters)] if new_quarters else []
        ),
    )


@sensor(
    name="extract_files_sensor",
    job=quarterly_comparison,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="监测数据目录:新季度文件夹登记为分区;部门文件新增或替换时请求刷新(每批一次运行)。",
)
def extract_files_sensor(context: SensorEvaluationContext) -> SensorResult:
    return evaluate_extract_files(context, env_extracts_dir())

"""Asset checks an officer sees in the UI, per source and quarter.

Broken data (a source with no valid ID at all) is an ERROR on a blocking check: the flags are not
rebuilt on it. Unusual but possible data (row count far from last quarter, many rejected rows) is a
WARN the officer should look at.
"""


import warnings

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetChecksDefinition,
    asset_check,
)

from assets.extracts import extract_asset_key
from assets.partitions import quarter_partitions
from assets.resources import WarehouseResource
from matchers import quality_checks as qc
from matchers.contract import SOURCE_LABELS, SOURCES

# Partitioned asset checks are marked "preview" in Dagster 1.13; they are what a per-quarter check is.
warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec")


def _result(r: qc.CheckOutcome) -> AssetCheckResult:
    return AssetCheckResult(
        passed=r.passed,
        severity=AssetCheckSeverity.ERROR if r.severity == "error" else AssetCheckSeverity.WARN,
        description=r.message,
        metadata=r.metadata,
    )


def _extract_checks(source: str) -> list[AssetChecksDefinition]:
    label = SOURCE_LABELS[source]
    key = extract_asset_key(source)

    @asset_check(
        asset=key,
        name="valid_id_share",
        blocking=True,
        partitions_def=quarter_partitions,
        description=f"{label}:有效身份证号占比;整份数据没有一个有效身份证号时判为数据损坏,停止生成疑点。",
    )
    def _valid_ids(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            return _result(qc.valid_id_share(con, context.partition_key, source))

    @asset_check(
        asset=key,
        name="row_count_vs_previous_quarter",
        partitions_def=quarter_partitions,
        description=f"{label}:行数与上一季度相比变化超过 ±30% 时提醒。",
    )
    def _row_count(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            return _result(qc.row_count_vs_previous(con, context.partition_key, source))

    @asset_check(
        asset=key,
        name="rejected_share",
        partitions_def=quarter_partitions,
        description=f"{label}:拒收行占比超过 {qc.REJECTED_SHARE_WARN:.0%} 时提醒。",
    )
    def _rejected(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
        with warehouse.connect(read_only=True) as con:
            return _result(qc.rejected_share(con, context.partition_key, source))

    return [_valid_ids, _row_count, _rejected]


extract_checks = [c for s in SOURCES for c in _extract_checks(s)]


@asset_check(
    asset="source_records",
    name="probabilistic_share",
    partitions_def=quarter_partitions,
    description="只靠概率匹配找到人员的行所占比例(按部门),超过 10% 时提醒。",
)
def probabilistic_share_check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    from matchers.resolution import spec

    with warehouse.connect(read_only=True) as con:
        return _result(
            qc.probabilistic_share(con, context.partition_key, (spec.METHOD_PROBABILISTIC, spec.METHOD_REVIEW))
        )


@asset_check(
    asset="flags",
    name="rule_counts_vs_previous_quarter",
    partitions_def=quarter_partitions,
    description="各规则疑点数与上一季度相比变化超过 ±30% 时提醒。",
)
def rule_counts_check(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> AssetCheckResult:
    from matchers.rules.engine import RULE_CODES

    with warehouse.connect(read_only=True) as con:
        return _result(qc.rule_counts_vs_previous(con, context.partition_key, RULE_CODES))

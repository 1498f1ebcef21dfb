"""Flags: the 14 rules of RULES.md over the resolved quarter, then publish the quarter."""

from dagster import AssetExecutionContext, AssetKey, Config, Failure, MaterializeResult, MetadataValue, asset

from assets.partitions import quarter_partitions
from assets.resources import WarehouseResource
from matchers import warehouse as wh
from matchers.rules.config import RuleConfigError, load_config
from matchers.privacy import contains_full_id
from matchers.rules.engine import RULES, RULES_BY_CODE, preview_markdown, run_rules
from matchers.rules.scope import MODE_SCOPED


class FlagsConfig(Config):
    """full: run every rule over the whole quarter even when a refresh could recompute only the
    persons whose data changed (the result is the same; this is for checking)."""

    full: bool = False


@asset(
    name="flags",
    group_name="flags",
    kinds={"duckdb"},
    partitions_def=quarter_partitions,
    deps=[AssetKey("source_records")],
)
def flags(context: AssetExecutionContext, config: FlagsConfig, warehouse: WarehouseResource) -> MaterializeResult:
    """疑点规则:14条比对规则 → flags(保留核查结论,记录已销号疑点和所用阈值),并发布本季度。"""
    quarter = context.partition_key
    try:
        rule_config = load_config()
    except RuleConfigError as exc:
        raise Failure(description=str(exc)) from exc
    for warning in rule_config.warnings:
        context.log.warning(warning)
    with warehouse.connect() as con:
        run = run_rules(con, quarter, rule_config, run_id=context.run_id, force_full=config.full)
        preview = preview_markdown(con, quarter)
        published = wh.publish_quarter(con, quarter)
    context.log.info(f"{run.mode}:{run.mode_reason}")
    for note in run.skipped.values():
        context.log.info(note)
    if contains_full_id(preview):  # reasons carry masked IDs only; never let one through
        preview = "(预览中出现未脱敏的身份证号,已隐藏)"
    per_rule = "\n".join(
        ["| 规则 | 名称 | 条数 |", "|---|---|---|"]
        + [f"| {r.code} | {r.title} | {run.counts[r.code]} |" for r in RULES]
    )
    return MaterializeResult(
        metadata={
            "比对方式": run.mode,
            "比对方式原因": run.mode_reason,
            "重新比对人数": f"{run.scope.get('persons_in_scope', 0)} 人" if run.mode == MODE_SCOPED else "全部",
            "疑点总数": run.total,
            "本季度新增": run.new,
            "上季度延续": run.carried,
            "已销号": run.resolved,
            "上一季度": run.previous_quarter or "",
            **{f"{code} {RULES_BY_CODE[code].title}": n for code, n in run.counts.items()},
            "各规则疑点数": MetadataValue.md(per_rule),
            "未比对的规则": MetadataValue.json(run.skipped),
            "所用阈值": MetadataValue.json(
                {
                    "source": rule_config.source,
                    "sha256": rule_config.sha256,
                    "defaults": rule_config.defaults,
                    "districts": {d: rule_config.for_district(d) for d in sorted(rule_config.districts)},
                }
            ),
            "已发布行数": MetadataValue.json(published),
            "疑点预览(身份证号已脱敏)": MetadataValue.md(preview),
        }
    )

"""Resolution: every accepted row of the quarter to a person (`source_records`), and the explicit
retraining of the person-matching model (job `retrain_person_model`)."""

from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    asset,
    job,
    op,
)

from assets.partitions import quarter_partitions
from assets.resources import WarehouseResource
from matchers.contract import SOURCES
from matchers.privacy import mask_id, mask_ids_in_text
from matchers.resolution import model_path, spec, train_model
from matchers.resolution.model_chart import weights_chart_markdown, weights_table_markdown
from matchers.resolution.incremental import resolve_with_refresh
from matchers.resolution.person_ids import load_or_create_key

EXTRACT_ASSET_KEYS = [AssetKey(f"extract_{source}") for source in SOURCES]


def _review_preview(con, quarter: str, limit: int = 10) -> str:
    rows = con.execute(
        """
        SELECT source, source_row, name_norm, coalesce(id_norm, id_raw) AS id_text, match_explanation
        FROM work_source_records
        WHERE quarter = ? AND match_method = ?
        ORDER BY match_probability, source, source_row
        LIMIT ?
        """,
        [quarter, spec.METHOD_REVIEW, limit],
    ).fetchall()
    lines = ["| 来源 | 行 | 姓名 | 证件号 | 匹配依据 |", "|---|---|---|---|---|"]
    for source, n, name, id_text, why in rows:
        lines.append(f"| {source} | {n} | {name or ''} | {mask_id(id_text)} | {why or ''} |")
    text = "\n".join(lines)
    return mask_ids_in_text(text)


def _model_metadata(quarter: str, counts: dict) -> dict:
    """The model in force: where it came from, its sha256, evidence, weights chart and table."""
    rows = counts["model_weights"]
    out = {
        "人员匹配模型": counts["model_message"],
        "人员匹配模型sha256": counts["model_sha256"],
        "匹配权重图": MetadataValue.md(weights_chart_markdown(rows, f"{quarter} 人员匹配权重(按比较项级别)")),
        "匹配权重表": MetadataValue.md(weights_table_markdown(rows)),
    }
    if counts["model_fallback"] is not None:
        out["是否使用默认模型"] = "是" if counts["model_fallback"] else "否"
    if counts.get("model_evidence"):
        out["模型估计依据(记录对数)"] = MetadataValue.json(counts["model_evidence"])
    return out


class ResolutionConfig(Config):
    """full: resolve every row from scratch even when a refresh could resolve only what changed."""

    full: bool = False


@asset(
    name="source_records",
    group_name="resolution",
    kinds={"duckdb"},
    partitions_def=quarter_partitions,
    deps=EXTRACT_ASSET_KEYS,
)
def source_records(
    context: AssetExecutionContext, config: ResolutionConfig, warehouse: WarehouseResource
) -> MaterializeResult:
    """人员匹配:本季度每条记录归到一个人(身份证号一致 → 概率匹配 → 新建人员),稳定的人员编号与家庭成员。
    本季度已发布且只有部分记录变化时,只重新匹配新增或修改的记录(增量匹配),其余记录沿用已发布的人员编号。"""
    quarter = context.partition_key
    path = model_path()
    if not Path(path).exists():
        raise Failure(description=f"人员匹配模型文件不存在: {path}。请先运行作业 retrain_person_model。")
    key = load_or_create_key(warehouse.path)
    with warehouse.connect() as con:
        counts = resolve_with_refresh(
            con, quarter, model_path=path, key=key, run_id=context.run_id, force_full=config.full
        )
        preview = _review_preview(con, quarter)
    context.log.info(f"人员匹配方式:{counts['mode']}。{counts['mode_reason']}")
    if counts["model_fallback"]:
        context.log.warning(counts["model_message"])
    else:
        context.log.info(counts["model_message"])
    for block in counts["oversized_blocks"]:
        context.log.warning(
            f"分块过大已跳过: 规则 {block['rule']}, {block['blocks']} 个分块, 最大 {block['largest_pairs']} 对"
        )
    metadata = {
        "匹配方式": counts["mode"],
        "匹配方式说明": counts["mode_reason"],
        "重新匹配行数": counts["rows_resolved"],
        "删除行数": counts.get("rows_removed", 0),
        "有变化的部门": MetadataValue.json(counts["changed_sources"]),
        "行数": counts["rows"],
        "本季度人数": counts["persons"],
        "人员主索引人数": counts["persons_index"],
        "待核实匹配行数": counts["review_band"],
        "候选对数": counts["candidate_pairs"],
        "概率关联数": counts["links"],
        "防串联切断的关联数": counts["links_cut_by_guard"],
        "过大分块数(已跳过)": len(counts["oversized_blocks"]),
        "过大分块明细": MetadataValue.json(counts["oversized_blocks"]),
        "家庭成员关系数": counts["household_members"],
        "各匹配方式行数": MetadataValue.json(counts["match_methods"]),
        **{f"匹配方式:{k}": v for k, v in counts["match_methods"].items()},
        "耗时(秒)": counts["seconds_total"],
        "匹配模型文件(默认模型)": str(path),
        **_model_metadata(quarter, counts),
        "待核实匹配预览(身份证号已脱敏)": MetadataValue.md(preview),
    }
    return MaterializeResult(metadata=metadata)


class RetrainConfig(Config):
    """Quarters to train on (all staged quarters when empty) and where to write the model."""

    quarters: list[str] = []
    output_path: str = ""


@op
def retrain_person_model_op(
    context: OpExecutionContext, config: RetrainConfig, warehouse: WarehouseResource
) -> dict:
    """Retrain the person-matching model on the staged rows; write it where normal runs load it."""
    out = Path(config.output_path or model_path())
    with warehouse.connect() as con:
        model = train_model(con, config.quarters or None)
    model.save(out)
    context.log.info(f"人员匹配模型已重新训练并保存: {out}")
    return {"path": str(out), **model.trained_on}


@job(description="重新训练人员匹配模型(显式操作;日常运行只加载已保存的模型)。")
def retrain_person_model():
    retrain_person_model_op()

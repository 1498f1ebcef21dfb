"""Reports: the district verification workbooks (核查名单) and the quarterly report (报表)."""

import base64

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from assets.partitions import quarter_partitions
from assets.resources import WarehouseResource
from matchers.reports.labels import NOT_YET, RULE_NAMES, percent_text
from matchers.reports.quarterly import write_quarterly_reports
from matchers.reports.workbooks import export_district_workbooks


def _md_table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _retried(context: AssetExecutionContext, what: str, message: str | None) -> dict[str, str]:
    """When the quarter's previous export of `what` failed, say (log and metadata) that this one
    repeated it."""
    if not message:
        return {}
    text = f"上次生成{what}失败({message}),本次已重新生成全部没有写好的文件"
    context.log.info(text)
    return {"上次导出失败": text}


@asset(
    group_name="reports",
    partitions_def=quarter_partitions,
    deps=[AssetKey("flags")],
    kinds={"duckdb", "excel"},
)
def district_workbooks(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """核查名单: one workbook per district with its flags (IDs masked) for door-to-door verification."""
    quarter = context.partition_key
    with warehouse.connect() as con:
        out = export_district_workbooks(con, quarter, warehouse.exports_dir, actor=f"dagster:{context.run_id}")
    rules: dict[str, int] = {}
    for w in out:
        for code, n in w.rules.items():
            rules[code] = rules.get(code, 0) + n
    return MaterializeResult(
        metadata={
            **_retried(context, "核查名单", out[0].retried if out else None),
            "核查名单数": len(out),
            "本次重新生成的核查名单数": sum(not w.unchanged for w in out),
            "内容未变、沿用上次文件的区": ", ".join(w.district for w in out if w.unchanged) or "无",
            "疑点条数": sum(w.rows for w in out),
            "文件": MetadataValue.json({w.district: str(w.path) for w in out}),
            "各区": MetadataValue.md(
                _md_table(["区", "核查对象", "按规则"], [
                    [w.district, w.rows, ", ".join(f"{c}:{n}" for c, n in w.rules.items())] for w in out
                ])
            ),
            "各规则": MetadataValue.md(
                _md_table(["规则", "名称", "条数"], [[c, RULE_NAMES.get(c, c), n] for c, n in sorted(rules.items())])
            ),
        }
    )


@asset(
    group_name="reports",
    partitions_def=quarter_partitions,
    deps=[AssetKey("flags")],
    kinds={"duckdb", "excel"},
)
def quarterly_report(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """季度报表 for the city and each district: counts per rule, subsidy coverage, 支出型贫困 share, chart."""
    quarter = context.partition_key
    with warehouse.connect() as con:
        out = write_quarterly_reports(con, quarter, warehouse.exports_dir, actor=f"dagster:{context.run_id}")
    city = out[0]
    fig = city.figures
    chart = base64.b64encode(city.chart_path.read_bytes()).decode("ascii")
    rows = [
        [r.scope, r.figures.totals["total"], r.figures.totals["new"], r.figures.totals["carried"],
         r.figures.totals["resolved"] if r.figures.resolved_known else NOT_YET, percent_text(r.figures.nursing_coverage),
         percent_text(r.figures.living_coverage), percent_text(r.figures.expenditure_poverty_share)]
        for r in out
    ]
    return MaterializeResult(
        metadata={
            **_retried(context, "报表", city.retried),
            "全市报表": MetadataValue.path(str(city.path)),
            "图表文件": MetadataValue.path(str(city.chart_path)),
            "文件": MetadataValue.json({r.scope: str(r.path) for r in out}),
            "本次重新生成的报表数": sum(not r.unchanged for r in out),
            "内容未变、沿用上次文件的报表": ", ".join(r.scope for r in out if r.unchanged) or "无",
            "疑点条数": fig.totals["total"],
            "护理补贴覆盖率": percent_text(fig.nursing_coverage),
            "生活补贴覆盖率": percent_text(fig.living_coverage),
            "支出型贫困占低保比例": percent_text(fig.expenditure_poverty_share),
            "各规则": MetadataValue.md(
                _md_table(["规则", "名称", "总数", "新发现", "延续", "已销号"], [
                    [r["rule_code"], RULE_NAMES.get(r["rule_code"], r["rule_code"]), r["total"], r["new"],
                     r["carried"], r["resolved"] if fig.resolved_known else NOT_YET]
                    for r in fig.rules.iter_rows(named=True)
                ])
            ),
            "各区": MetadataValue.md(
                _md_table(["范围", "核查对象", "新发现", "延续", "已销号", "护理补贴覆盖率", "生活补贴覆盖率",
                           "支出型贫困/低保户"], rows)
            ),
            "图表": MetadataValue.md(f"![核查对象数:各区,按季度](data:image/png;base64,{chart})"),
        }
    )

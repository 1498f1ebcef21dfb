"""The Chinese end-of-run summary printed by `make run` (masked: no ID ever appears here).

It says what each department delivered and how many rows were refused (and how to see them), the
flags per rule with the rule's name, where the 核查名单 and 报表 were written, every asset-check
warning, and for a failed run the reason in one sentence and that the published data is unchanged.
"""

from __future__ import annotations

from pathlib import Path

from dagster import DagsterEventType

from matchers.contract import SOURCE_LABELS, SOURCES
from matchers.privacy import mask_ids_in_text
from matchers.rules.engine import RULES
from pipelines.console import check_warning, metadata_values, pad, stage_of
from pipelines.run_errors import officer_message

NAME_COLUMNS = 28  # terminal columns of the longest source or rule name, so the counts line up
REJECTED_COMMAND = "make rejected QUARTER={quarter}"


def _events(result, *types):
    return [e for e in result.all_events if e.event_type in types]


def failures(result, log_path: str | None = None) -> list[str]:
    """One Chinese sentence per failed stage."""
    out = []
    for event in _events(result, DagsterEventType.STEP_FAILURE, DagsterEventType.RESOURCE_INIT_FAILURE):
        data = event.event_specific_data
        failure = getattr(data, "user_failure_data", None)
        out.append(officer_message(getattr(data, "error", None), stage_of(event.step_key),
                                   getattr(failure, "description", None), log_path=log_path))
    return list(dict.fromkeys(out))


def check_warnings(result) -> list[str]:
    lines = (check_warning(e.event_specific_data) for e in _events(result, DagsterEventType.ASSET_CHECK_EVALUATION))
    return [mask_ids_in_text(line) for line in lines if line]


def output_files(result) -> dict[str, dict]:
    """asset → its materialization's metadata, for the assets that write files."""
    out = {}
    for event in _events(result, DagsterEventType.ASSET_MATERIALIZATION):
        m = event.event_specific_data.materialization
        out[m.asset_key.to_user_string()] = metadata_values(m)
    return out


def _print_outputs(result) -> None:
    outputs = output_files(result)
    books = (outputs.get("district_workbooks") or {}).get("文件") or {}
    reports = outputs.get("quarterly_report") or {}
    if not books and not reports:
        return
    print("输出文件:")
    if books:
        folders = sorted({str(Path(p).parent) for p in books.values()})
        print(f"  核查名单 {len(books)} 份(每区一份):{'、'.join(folders)}")
    if reports.get("全市报表"):
        print(f"  全市报表:{reports['全市报表']}(各区报表和图表在同一文件夹)")


def _print_sources(con, quarter: str) -> None:
    def per_source(table: str) -> dict[str, int]:
        return dict(con.execute(f"SELECT source, count(*) FROM {table} WHERE quarter = ? GROUP BY source",
                                [quarter]).fetchall())

    counts, rejected, files = per_source("source_records"), per_source("rejected_rows"), per_source("stg_files")
    print("各部门数据:")
    for s in SOURCES:
        if not files.get(s):
            print(f"  {pad(SOURCE_LABELS[s], NAME_COLUMNS)} 未收到文件")
        else:
            print(f"  {pad(SOURCE_LABELS[s], NAME_COLUMNS)} 接收 {counts.get(s, 0):>7} 行  拒收 {rejected.get(s, 0):>5} 行")
    total = sum(rejected.values())
    if total:
        print(f"  拒收共 {total} 行,逐行原因(文件、行号、原因):{REJECTED_COMMAND.format(quarter=quarter)}")


def _print_flags(con, quarter: str) -> None:
    counts = dict(con.execute("SELECT rule_code, count(*) FROM flags WHERE quarter = ? GROUP BY 1",
                              [quarter]).fetchall())
    print(f"疑点 {sum(counts.values())} 条,按规则:")
    for rule in RULES:
        print(f"  {rule.code} {pad(rule.title, NAME_COLUMNS - 4)} {counts.get(rule.code, 0):>6} 条")


def _print_published(quarter: str, warehouse_path: str) -> None:
    import duckdb

    if not Path(warehouse_path).exists():
        return
    con = duckdb.connect(warehouse_path, read_only=True)
    try:
        _print_sources(con, quarter)
        _print_flags(con, quarter)
    finally:
        con.close()


def print_summary(result, quarter: str, warehouse_path: str, log_path: str | None = None) -> None:
    print()
    print("=" * 60)
    print(f"季度 {quarter} 比对{'完成' if result.success else '未完成'}")
    if result.success:
        _print_published(quarter, warehouse_path)
        _print_outputs(result)
    else:
        for line in failures(result, log_path):
            print(f"  原因:{line}")
        done = {e.step_key for e in _events(result, DagsterEventType.STEP_SUCCESS)}
        if "flags" in done:
            print("  比对结果已发布(source_records、persons、flags);未完成的是之后的名单或报表步骤。")
        else:
            print("  已发布的数据(source_records、persons、flags 等)保持上次成功运行的结果,没有被修改。")
        print("  改正后重新运行 make run 即可;处理办法见 README“出错时”一节。")
    warnings = check_warnings(result)
    if warnings:
        print("数据检查提醒:")
        for line in warnings:
            print(f"  {line}")
    print(f"仓库文件:{warehouse_path}")
    if log_path:
        print(f"完整运行日志:{log_path}")
    print("=" * 60)

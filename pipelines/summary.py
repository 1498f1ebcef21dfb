"""The Chinese end-of-run summary printed by `make run` (masked: no ID ever appears here)."""

from __future__ import annotations

from pathlib import Path

from matchers.contract import SOURCE_LABELS, SOURCES


def _failures(result) -> list[str]:
    out = []
    for event in result.all_events:
        if event.event_type_value in ("STEP_FAILURE", "RESOURCE_INIT_FAILURE"):
            data = event.event_specific_data
            err = getattr(data, "error", None)
            msg = None
            if err is not None:
                msg = err.message.strip().splitlines()[0] if err.message else None
                # dagster.Failure keeps its description in the user-code error's cause chain
                cause = err
                while cause is not None:
                    if cause.cls_name == "Failure":
                        msg = cause.message.strip().splitlines()[0]
                        break
                    cause = cause.cause
            out.append(f"{event.step_key or '运行准备'}: {msg or '失败'}")
    return out


def print_summary(result, quarter: str, warehouse_path: str) -> None:
    import duckdb

    print()
    print("=" * 60)
    print(f"季度 {quarter} 比对{'完成' if result.success else '未全部完成'}")
    if not result.success:
        for line in _failures(result):
            print(f"  失败 {line}")
        done = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}
        if "flags" in done:
            print("  比对结果已发布(source_records、persons、flags);未完成的是之后的名单或报表步骤。")
        else:
            print("  已发布的数据(source_records、persons、flags 等)保持上次成功运行的结果,没有被修改。")
        print("  处理办法见 README“出错时”一节;改正后重新运行 make run 即可。")
    elif Path(warehouse_path).exists():
        con = duckdb.connect(warehouse_path, read_only=True)
        try:
            counts = dict(
                con.execute(
                    "SELECT source, count(*) FROM source_records WHERE quarter = ? GROUP BY source", [quarter]
                ).fetchall()
            )
            rejected = dict(
                con.execute(
                    "SELECT source, count(*) FROM rejected_rows WHERE quarter = ? GROUP BY source", [quarter]
                ).fetchall()
            )
            files = dict(
                con.execute(
                    "SELECT source, count(*) FROM stg_files WHERE quarter = ? GROUP BY source", [quarter]
                ).fetchall()
            )
            for s in SOURCES:
                if not files.get(s):
                    print(f"  {SOURCE_LABELS[s]:<14} 未收到文件")
                else:
                    print(f"  {SOURCE_LABELS[s]:<14} 接收 {counts.get(s, 0):>7} 行  拒收 {rejected.get(s, 0):>5} 行")
            tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
            if "flags" in tables:
                flags = con.execute(
                    "SELECT rule_code, count(*) FROM flags WHERE quarter = ? GROUP BY 1 ORDER BY 1", [quarter]
                ).fetchall()
                if flags:
                    print("  疑点:" + ",".join(f"{code} {n}" for code, n in flags))
        finally:
            con.close()
    print(f"仓库文件:{warehouse_path}")
    print("=" * 60)

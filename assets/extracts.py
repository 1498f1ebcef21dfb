"""Ingestion: one asset per department source, partitioned by quarter, into `stg_records`."""


import datetime as dt

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)

from assets.partitions import quarter_partitions
from assets.resources import WarehouseResource
from matchers import warehouse
from matchers.contract import SOURCE_LABELS, SOURCES
from matchers.extract_reader import ExtractFileError, list_quarters, read_extract_file, source_files
from matchers.ingest import prepare_source
from matchers.privacy import mask_ids_in_text
from matchers.read_limits import ReadLimits, read_limits


def extract_asset_key(source: str) -> str:
    return f"extract_{source}"


def load_source(con, extracts_dir: str, quarter: str, source: str, limits: ReadLimits | None = None) -> dict:
    """Read, parse and normalise one source's files of a quarter and replace its staging rows.

    Raises ExtractFileError (nothing written) when any file of the source cannot be used.
    Returns counts and notes for the run's metadata.
    """
    paths = source_files(extracts_dir, quarter, source)
    limits = limits or read_limits()
    files = [read_extract_file(p, source, limits) for p in paths]
    prepared = prepare_source(source, files)
    records = prepared.records.with_columns(
        pl.lit(quarter).alias("quarter"), pl.lit(source).alias("source")
    )
    rejected = prepared.rejected.with_columns(
        pl.lit(quarter).alias("quarter"), pl.lit(source).alias("source")
    )
    now = dt.datetime.now()
    per_file = []
    for f in files:
        n_rej = prepared.rejected.filter(pl.col("source_file") == f.name).height
        per_file.append(
            {
                "quarter": quarter,
                "source": source,
                "source_file": f.name,
                "sha256": f.sha256,
                "size_bytes": f.path.stat().st_size,
                "data_rows": f.rows.height,
                "accepted": f.rows.height - n_rej,
                "rejected": n_rej,
                "encoding": f.encoding,
                "header_row": f.header_row,
                "loaded_at": now,
            }
        )
    files_frame = pl.DataFrame(
        per_file,
        schema={
            "quarter": pl.String, "source": pl.String, "source_file": pl.String,
            "sha256": pl.String, "size_bytes": pl.Int64, "data_rows": pl.Int32,
            "accepted": pl.Int32, "rejected": pl.Int32, "encoding": pl.String,
            "header_row": pl.Int32, "loaded_at": pl.Datetime("us"),
        },
    )
    key = {"quarter": quarter, "source": source}
    warehouse.register(con, "_new_records", records.to_arrow())
    warehouse.register(con, "_new_rejected", rejected.to_arrow())
    warehouse.register(con, "_new_files", files_frame.to_arrow())
    try:
        with warehouse.transaction(con):
            warehouse.replace_rows(con, "stg_records", key, "_new_records" if records.height else None)
            warehouse.replace_rows(con, "stg_rejected", key, "_new_rejected" if rejected.height else None)
            warehouse.replace_rows(con, "stg_files", key, "_new_files" if per_file else None)
    finally:
        for name in ("_new_records", "_new_rejected", "_new_files"):
            warehouse.unregister(con, name)
    return {
        "files": per_file,
        "accepted": records.height,
        "rejected": rejected.height,
        "warnings": [w for f in files for w in f.warnings],
        "rejected_preview": prepared.rejected.select("source_file", "source_row", "reason").head(10),
    }


def stage_previous_disability(con, extracts_dir: str, quarter: str) -> str | None:
    """Stage the previous quarter's disability extract when it never was (rule R04 compares with
    it). Returns that quarter when it was loaded now. Nothing is published by this."""
    earlier = [q for q in list_quarters(extracts_dir) if q < quarter]
    if not earlier:
        return None
    prev = earlier[-1]
    staged = con.execute(
        "SELECT count(*) FROM stg_files WHERE quarter = ? AND source = 'disability'", [prev]
    ).fetchall()[0][0]
    published = con.execute("SELECT count(*) FROM source_records WHERE quarter = ?", [prev]).fetchall()[0][0]
    if staged or published or not source_files(extracts_dir, prev, "disability"):
        return None
    load_source(con, extracts_dir, prev, "disability")
    return prev


def _markdown_table(frame: pl.DataFrame) -> str:
    if frame.height == 0:
        return "(无)"
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "\n".join("| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.rows())


def _cell(value: object) -> str:
    """A table cell for Dagster's page: IDs masked (a file name may carry one), pipes escaped."""
    return mask_ids_in_text(value).replace("|", "\\|").replace("\n", " ")


def build_extract_asset(source: str) -> AssetsDefinition:
    label = SOURCE_LABELS[source]

    @asset(
        name=extract_asset_key(source),
        group_name="extracts",
        kinds={"duckdb"},
        partitions_def=quarter_partitions,
        description=f"{label}:读取本季度 {source}*.csv/xlsx,规范化后写入 stg_records(无法接收的行写入 stg_rejected)。",
    )
    def _extract(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        quarter = context.partition_key
        paths = source_files(warehouse.extracts_dir, quarter, source)
        if not paths:
            context.log.warning(
                f"{quarter} 季度没有收到“{label}”({source})的文件,本次比对不含该部门数据。"
            )
        try:
            limits = read_limits()
        except ValueError as exc:  # an administrator's setting, named in Chinese by read_limits
            raise Failure(description=f"{label}({source})未能导入:{exc}。仓库中的数据保持不变。", allow_retries=False) from exc
        with warehouse.connect() as con:
            try:
                result = load_source(con, warehouse.extracts_dir, quarter, source, limits)
            except ExtractFileError as exc:
                raise Failure(
                    description=mask_ids_in_text(f"{label}({source})未能导入:{exc}。仓库中的数据保持不变。"),
                    metadata={"文件": mask_ids_in_text(exc.file), "问题": mask_ids_in_text(exc.problem)},
                    allow_retries=False,
                ) from exc
            if source == "disability":
                try:
                    prev = stage_previous_disability(con, warehouse.extracts_dir, quarter)
                except ExtractFileError as exc:
                    context.log.warning(mask_ids_in_text(f"上一季度的残联数据未能导入,R04 新增重度残疾 将无法比对:{exc}"))
                else:
                    if prev:
                        context.log.info(f"已导入上一季度 {prev} 的残联数据,供 R04 新增重度残疾 比对")
        for w in result["warnings"]:
            context.log.warning(mask_ids_in_text(w))
        files = result["files"]
        data_rows = sum(f["data_rows"] for f in files)
        context.log.info(
            f"{label}:{len(files)} 个文件,{data_rows} 行数据,接收 {result['accepted']} 行,"
            f"拒收 {result['rejected']} 行"
        )
        return MaterializeResult(
            metadata={
                "状态": "缺少该部门文件" if not files else "已导入",
                "文件数": len(files),
                "数据行数": data_rows,
                "接收行数": result["accepted"],
                "拒收行数": result["rejected"],
                "文件": MetadataValue.md(
                    _markdown_table(
                        pl.DataFrame(files).select("source_file", "encoding", "header_row", "data_rows", "rejected")
                        if files
                        else pl.DataFrame()
                    )
                ),
                "拒收原因(前10行)": MetadataValue.md(_markdown_table(result["rejected_preview"])),
            }
        )

    return _extract


extract_assets = [build_extract_asset(s) for s in SOURCES]

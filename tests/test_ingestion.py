"""Ingestion assets end to end: files → stg_records / stg_rejected, per quarter and source."""

import csv
import io
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from assets.extracts import extract_assets, load_source
from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from matchers import warehouse
from matchers.extract_reader import ExtractFileError

ASSISTANCE = [
    ["序号", "家庭编号", "与户主关系", "姓名", "身份证号", "性别", "区", "救助类别", "月保障金额(元)", "家庭人口", "状态", "状态日期"],
    ["1", "H001", "户主", "王秀英", "'420102195001011238", "女", "江岸区", "城市低保", "1,600元", "2", "在保", "2026/7/1"],
    ["2", "H001", "配偶", "张 伟", "4.20115E+17", "男", "江岸区", "城市低保", "", "2", "在保", "2026年7月1日"],
    ["3", "H002", "户主", "", "", "男", "江岸区", "城市低保", "不详", "1", "在保", "46000"],
    ["4", "H003", "户主", "李娜", "42011119800101106x", "女", "洪山区", "农村特困", "-5", "1", "在保", "2026-07-01"],
]


def write_csv(path: Path, rows, encoding="utf-8"):
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.fixture
def wh(tmp_path):
    return WarehouseResource(
        path=str(tmp_path / "wh.duckdb"), extracts_dir=str(tmp_path / "extracts"), exports_dir=str(tmp_path / "exports")
    )


def _run(wh, quarter, instance):
    if not instance.has_dynamic_partition(QUARTER_PARTITIONS_NAME, quarter):
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    return materialize(
        extract_assets, partition_key=quarter, resources={"warehouse": wh}, instance=instance, raise_on_error=False
    )


def _count(wh, sql, params=()):
    con = duckdb.connect(wh.path, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchone()[0]
    finally:
        con.close()


def test_rows_land_with_provenance_and_rejects_are_kept(wh):
    write_csv(Path(wh.extracts_dir) / "2026Q3" / "assistance.csv", ASSISTANCE, "gb18030")
    with DagsterInstance.ephemeral() as instance:
        result = _run(wh, "2026Q3", instance)
    assert result.success
    assert _count(wh, "SELECT count(*) FROM stg_records WHERE source='assistance'") == 3
    assert _count(wh, "SELECT count(*) FROM stg_rejected WHERE source='assistance'") == 1
    assert _count(wh, "SELECT source_row FROM stg_rejected") == 3
    assert _count(wh, "SELECT id_norm FROM stg_records WHERE source_row = 1") == "420102195001011238"
    assert _count(wh, "SELECT id_norm FROM stg_records WHERE source_row = 4") == "42011119800101106X"
    assert _count(wh, "SELECT monthly_amount FROM stg_records WHERE source_row = 1") == 1600.0
    assert "负数" in _count(wh, "SELECT row_issues FROM stg_records WHERE source_row = 4")
    assert _count(wh, "SELECT source_file FROM stg_records LIMIT 1") == "assistance.csv"
    assert _count(wh, "SELECT encoding FROM stg_files WHERE source='assistance'") == "gb18030"


def test_missing_source_is_a_warning_not_a_failure(wh):
    write_csv(Path(wh.extracts_dir) / "2026Q3" / "assistance.csv", ASSISTANCE)
    with DagsterInstance.ephemeral() as instance:
        result = _run(wh, "2026Q3", instance)
        assert result.success
        warnings = [
            e.message for e in result.all_events if e.event_type_value == "ENGINE_EVENT" or e.is_step_success
        ]
        logs = instance.all_logs(result.run_id)
        assert any("没有收到" in (r.user_message or "") and "poverty" in r.user_message for r in logs)


def test_unreadable_file_fails_that_source_and_leaves_warehouse_untouched(wh):
    q = Path(wh.extracts_dir) / "2026Q3"
    write_csv(q / "assistance.csv", ASSISTANCE)
    with DagsterInstance.ephemeral() as instance:
        assert _run(wh, "2026Q3", instance).success
        before = _count(wh, "SELECT count(*) FROM stg_records")
        (q / "assistance.csv").write_bytes(b"\x00\x01\x02binary garbage" * 100)
        write_csv(q / "poverty.csv", [["户编号", "姓名", "身份证号", "脱贫状态"], ["P1", "赵六", "", "已脱贫"]])
        result = _run(wh, "2026Q3", instance)
    assert not result.success
    failed = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failed] == ["extract_assistance"]
    assert "assistance.csv" in str(failed[0].event_specific_data.error)
    # assistance rows from the earlier good load are untouched; poverty still loaded
    assert _count(wh, "SELECT count(*) FROM stg_records WHERE source='assistance'") == before
    assert _count(wh, "SELECT count(*) FROM stg_records WHERE source='poverty'") == 1


def test_a_quarter_load_replaces_only_that_quarter(wh):
    root = Path(wh.extracts_dir)
    write_csv(root / "2026Q2" / "assistance.csv", ASSISTANCE)
    write_csv(root / "2026Q3" / "assistance.csv", ASSISTANCE[:3])
    with DagsterInstance.ephemeral() as instance:
        _run(wh, "2026Q2", instance)
        _run(wh, "2026Q3", instance)
        _run(wh, "2026Q3", instance)  # rerun: same counts, no duplicates
    assert _count(wh, "SELECT count(*) FROM stg_records WHERE quarter='2026Q2'") == 3
    assert _count(wh, "SELECT count(*) FROM stg_records WHERE quarter='2026Q3'") == 2


def test_split_source_files_are_numbered_from_one_each(wh):
    q = Path(wh.extracts_dir) / "2026Q3"
    head = ["姓名", "身份证号", "个人自付(元)", "结算日期"]
    write_csv(q / "medical_part1.csv", [head, ["王五", "", "100", "2026-01-02"], ["赵六", "", "50", "2026-02-03"]])
    write_csv(q / "medical_part2.csv", [head, ["钱七", "", "1,000.5", "2026年3月4日"]])
    con = warehouse.connect(wh.path)
    try:
        load_source(con, wh.extracts_dir, "2026Q3", "medical")
        rows = con.execute("SELECT source_file, source_row FROM stg_records ORDER BY 1, 2").fetchall()
    finally:
        con.close()
    assert rows == [("medical_part1.csv", 1), ("medical_part1.csv", 2), ("medical_part2.csv", 1)]


def test_missing_required_column_error_names_file_and_column(wh):
    q = Path(wh.extracts_dir) / "2026Q3"
    write_csv(q / "housing_2026Q3.csv", [["户主姓名", "户主身份证号", "改造状态"], ["王五", "", "未改造"]])
    con = warehouse.connect(wh.path)
    try:
        with pytest.raises(ExtractFileError) as exc:
            load_source(con, wh.extracts_dir, "2026Q3", "housing")
    finally:
        con.close()
    assert "housing_2026Q3.csv" in str(exc.value) and "住房安全等级" in str(exc.value)

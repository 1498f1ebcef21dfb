"""The `flags` asset: runs the rules for its quarter partition, publishes, reports counts."""

from __future__ import annotations

import re

from dagster import DagsterInstance, materialize

from assets.flags import flags
from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from matchers import warehouse
from rules_fixtures import open_warehouse

Q = "2026Q3"
FULL_ID = re.compile(r"\d{17}[\dXx]")


def _dagster(tmp_path):
    """An ephemeral instance with the quarter's partition, and the warehouse resource of tmp_path."""
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [Q])
    resource = WarehouseResource(
        path=str(tmp_path / "rules.duckdb"), extracts_dir=str(tmp_path), exports_dir=str(tmp_path / "out")
    )
    return instance, resource


def test_flags_asset_publishes_the_quarter_with_counts_and_masked_preview(tmp_path, monkeypatch):
    w = open_warehouse(tmp_path, Q)
    w.person("seo", "王秀英", seq=11)
    w.person("head", "李建国", seq=12)
    w.disability("seo", 1, nursing=False)
    w.poverty("P1", [("head", "户主")], poverty_status="已脱贫", income_per_capita=7000)
    w.load()
    w.con.close()
    monkeypatch.delenv("RULES_CONFIG", raising=False)

    instance, resource = _dagster(tmp_path)
    result = materialize([flags], partition_key=Q, resources={"warehouse": resource}, instance=instance)
    assert result.success
    meta = result.asset_materializations_for_node("flags")[0].metadata
    assert meta["M02 重度残疾人护理补贴未落实"].value == 1 and meta["R01 收入低于监测线"].value == 1
    assert meta["M06 疑似支出型贫困"].value == 1
    assert meta["疑点总数"].value == 3 and meta["本季度新增"].value == 3 and meta["已销号"].value == 0
    for value in meta.values():
        assert not FULL_ID.search(str(value.value))
    assert "4201**********" in meta["疑点预览(身份证号已脱敏)"].value

    con = warehouse.connect(tmp_path / "rules.duckdb")
    try:
        assert con.execute("SELECT count(*) FROM flags WHERE quarter = ?", [Q]).fetchone()[0] == 3
        assert con.execute("SELECT count(*) FROM source_records WHERE quarter = ?", [Q]).fetchone()[0] == 2
        assert con.execute("SELECT count(DISTINCT run_id) FROM rule_config_log").fetchone()[0] == 1
    finally:
        con.close()


def test_flags_asset_says_how_it_compared_and_can_be_told_to_compare_everything(tmp_path, monkeypatch):
    w = open_warehouse(tmp_path, Q)
    w.person("seo", "王秀英", seq=11)
    w.disability("seo", 1, nursing=False)
    w.load()
    w.con.close()
    monkeypatch.delenv("RULES_CONFIG", raising=False)
    instance, resource = _dagster(tmp_path)

    def run(config=None):
        result = materialize([flags], partition_key=Q, resources={"warehouse": resource}, instance=instance,
                             run_config=config)
        assert result.success
        meta = result.asset_materializations_for_node("flags")[0].metadata
        return meta["比对方式"].value, meta["比对方式原因"].value, meta["重新比对人数"].value

    assert run() == ("全量比对", f"{Q} 尚未发布过疑点,全量比对", "全部")
    mode, reason, persons = run()  # nothing changed since: nothing to recompute
    assert mode == "局部比对" and persons == "0 人" and "完全相同" in reason
    full = {"ops": {"flags": {"config": {"full": True}}}}
    assert run(full) == ("全量比对", "按运行配置要求全量比对", "全部")

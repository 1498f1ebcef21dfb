"""The quarterly job as officers run it: full run, nightly refresh of one changed source, blocking
checks on broken data."""

import csv
import shutil
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance

from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from pipelines.definitions import QUARTERLY_JOB_NAME, build_definitions
from pipelines.jobs import all_assets
from pipelines.refresh import plan_nightly_refresh, refresh_selection

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "extracts"


def _executed_steps(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"}


def _run(defs, instance, quarter, selection=None):
    if not instance.has_dynamic_partition(QUARTER_PARTITIONS_NAME, quarter):
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    return defs.resolve_job_def(QUARTERLY_JOB_NAME).execute_in_process(
        instance=instance, partition_key=quarter, asset_selection=selection, raise_on_error=False
    )


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """The sample's 2026Q3 loaded once through the whole job."""
    root = tmp_path_factory.mktemp("job")
    extracts = root / "extracts"
    shutil.copytree(SAMPLE / "2026Q3", extracts / "2026Q3")
    wh = WarehouseResource(path=str(root / "wh.duckdb"), extracts_dir=str(extracts), exports_dir=str(root / "exports"))
    defs = build_definitions(wh)
    instance = DagsterInstance.ephemeral()
    result = _run(defs, instance, "2026Q3")
    assert result.success
    return wh, defs, instance


def _published(wh, sql):
    con = duckdb.connect(wh.path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_full_run_publishes_every_public_table(loaded):
    wh, _, _ = loaded
    for table in ("source_records", "persons", "flags", "household_members"):
        assert _published(wh, f"SELECT count(*) FROM {table}")[0][0] > 0, table
    assert _published(wh, "SELECT count(*) FROM source_records WHERE person_id IS NULL")[0][0] == 0
    assert list(Path(wh.exports_dir, "2026Q3").glob("核查名单_2026Q3_*.xlsx"))


def test_refresh_with_nothing_changed_says_so(loaded):
    wh, _, _ = loaded
    plan = plan_nightly_refresh(wh.extracts_dir, wh.path, "2026Q3")
    assert not plan.has_work and "无变化" in plan.message


def test_nightly_refresh_after_one_changed_extract_reruns_that_branch_only(loaded, tmp_path):
    wh, defs, instance = loaded
    housing = next(Path(wh.extracts_dir, "2026Q3").glob("housing*"))
    original = housing.read_bytes()
    try:
        housing.write_bytes(original + b"\n")  # a trailing blank line: new content, same rows
        plan = plan_nightly_refresh(wh.extracts_dir, wh.path, "2026Q3")
        assert plan.changed == ["housing"]
        result = _run(defs, instance, "2026Q3", refresh_selection(plan, all_assets))
        assert result.success
        steps = _executed_steps(result)
        assert "extract_housing" in steps
        others = [s for s in steps if s.startswith("extract_") and not s.startswith("extract_housing")]
        assert others == []
        assert {"source_records", "flags", "district_workbooks", "quarterly_report"} <= steps
        assert not plan_nightly_refresh(wh.extracts_dir, wh.path, "2026Q3").has_work
    finally:
        housing.write_bytes(original)


def test_source_without_any_valid_id_stops_flags_from_being_rebuilt(loaded, tmp_path):
    wh, defs, instance = loaded
    before = _published(wh, "SELECT count(*), min(flag_id) FROM flags")
    q = Path(wh.extracts_dir) / "2026Q4"
    q.mkdir()
    for f in Path(wh.extracts_dir, "2026Q3").iterdir():
        if not f.name.startswith("assistance"):
            shutil.copy(f, q / f.name)
    rows = [["家庭编号", "与户主关系", "姓名", "身份证号", "救助类别", "状态"]] + [
        [f"H{i}", "户主", f"王{i}", "4.20115E+17", "城市低保", "在保"] for i in range(20)
    ]
    with open(q / "assistance.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    try:
        result = _run(defs, instance, "2026Q4")
        assert not result.success or "flags" not in _executed_steps(result)
        evals = [
            e.event_specific_data
            for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"
        ]
        failed = [
            ev for ev in evals
            if not ev.passed and ev.asset_key == AssetKey("extract_assistance") and ev.check_name == "valid_id_share"
        ]
        assert failed and failed[0].severity == AssetCheckSeverity.ERROR
        assert "没有一个有效身份证号" in failed[0].description
        assert "flags" not in _executed_steps(result)
        assert _published(wh, "SELECT count(*), min(flag_id) FROM flags") == before
        assert _published(wh, "SELECT count(*) FROM source_records WHERE quarter = '2026Q4'")[0][0] == 0
    finally:
        shutil.rmtree(q)


def test_r04_compares_with_previous_quarter_extract_even_if_never_compared(tmp_path):
    extracts = tmp_path / "extracts"
    for q in ("2026Q2", "2026Q3"):
        shutil.copytree(SAMPLE / q, extracts / q)
    wh = WarehouseResource(path=str(tmp_path / "wh.duckdb"), extracts_dir=str(extracts), exports_dir=str(tmp_path / "x"))
    result = _run(build_definitions(wh), DagsterInstance.ephemeral(), "2026Q3")
    assert result.success
    truth = ROOT / "sample_data" / "truth" / "2026Q3" / "flags.csv"
    expected = sum(1 for line in truth.read_text(encoding="utf-8").splitlines() if ",R04," in line)
    assert expected > 0
    assert _published(wh, "SELECT count(*) FROM flags WHERE rule_code = 'R04'")[0][0] == expected
    # 2026Q2 was only staged for the comparison, never published
    assert _published(wh, "SELECT count(*) FROM source_records WHERE quarter = '2026Q2'")[0][0] == 0

"""The Dagster side: Definitions, partitions, schedule, sensor, nightly refresh planning."""

import json
import os
import time
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, SkipReason, build_schedule_context, build_sensor_context, instance_for_test

from assets.partitions import QUARTER_PARTITIONS_NAME
from pipelines.definitions import QUARTERLY_JOB_NAME, defs
from pipelines.refresh import plan_nightly_refresh, scan_extracts
from pipelines.schedules import NIGHTLY_CRON, TIMEZONE, nightly_refresh
from pipelines.sensors import evaluate_extract_files


def test_definitions_load_with_job_schedule_sensor():
    job = defs.resolve_job_def(QUARTERLY_JOB_NAME)
    assert job.name == QUARTERLY_JOB_NAME
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {f"extract_{s}" for s in ("assistance", "poverty", "disability", "education", "housing", "medical")} <= keys
    assert defs.resolve_schedule_def("nightly_refresh")
    assert defs.resolve_sensor_def("extract_files_sensor")


def test_nightly_schedule_runs_at_two_in_shanghai():
    assert nightly_refresh.cron_schedule == NIGHTLY_CRON == "0 2 * * *"
    assert nightly_refresh.execution_timezone == TIMEZONE == "Asia/Shanghai"
    assert nightly_refresh.default_status.value == "RUNNING"


def _extracts(tmp_path: Path) -> Path:
    root = tmp_path / "extracts"
    (root / "2026Q3").mkdir(parents=True)
    old = time.time() - 3600
    for name in ("assistance.csv", "medical_part1.csv"):
        p = root / "2026Q3" / name
        p.write_text("姓名,身份证号\n", encoding="utf-8")
        os.utime(p, (old, old))
    return root


def test_sensor_registers_new_quarter_and_requests_a_run(tmp_path):
    root = _extracts(tmp_path)
    with DagsterInstance.ephemeral() as instance:
        ctx = build_sensor_context(instance=instance, cursor=None)
        result = evaluate_extract_files(ctx, str(root))
        assert result.dynamic_partitions_requests[0].partition_keys == ["2026Q3"]
        (req,) = result.run_requests
        assert req.partition_key == "2026Q3"
        assert AssetKey("extract_assistance") in req.asset_selection
        assert AssetKey("extract_poverty") not in req.asset_selection


def test_sensor_returns_nothing_for_an_unchanged_folder_and_a_run_for_a_new_file(tmp_path):
    root = _extracts(tmp_path)
    with DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, ["2026Q3"])
        first = evaluate_extract_files(build_sensor_context(instance=instance, cursor=None), str(root))
        assert not first.run_requests  # first look: remember, run nothing
        second = evaluate_extract_files(build_sensor_context(instance=instance, cursor=first.cursor), str(root))
        assert not second.run_requests and second.skip_reason
        p = root / "2026Q3" / "poverty.csv"
        p.write_text("姓名\n", encoding="utf-8")
        old = time.time() - 3600
        os.utime(p, (old, old))
        third = evaluate_extract_files(build_sensor_context(instance=instance, cursor=second.cursor), str(root))
        (req,) = third.run_requests
        assert AssetKey("extract_poverty") in req.asset_selection
        assert AssetKey("extract_assistance") not in req.asset_selection
        assert json.loads(third.cursor)["2026Q3"]["poverty"]


def test_sensor_waits_for_a_file_still_being_copied(tmp_path):
    root = _extracts(tmp_path)
    state, _, _ = scan_extracts(str(root), {})
    (root / "2026Q3" / "housing.csv").write_text("x", encoding="utf-8")  # mtime = now
    _, changes, settling = scan_extracts(str(root), state)
    assert "2026Q3" not in changes and settling == ["2026Q3/housing.csv"]


def test_nightly_refresh_with_nothing_loaded_plans_every_present_source(tmp_path):
    root = _extracts(tmp_path)
    plan = plan_nightly_refresh(str(root), str(tmp_path / "none.duckdb"), "2026Q3")
    assert plan.changed == ["assistance", "medical"]


def test_schedule_skips_quarter_not_registered(tmp_path, monkeypatch):
    root = _extracts(tmp_path)
    monkeypatch.setenv("EXTRACTS_DIR", str(root))
    with instance_for_test() as instance:
        result = nightly_refresh(build_schedule_context(instance=instance))
        assert isinstance(result, SkipReason) and "2026Q3" in result.skip_message

"""The city-scale benchmark's own logic: the refresh's one-row change, stage attribution, summaries."""

from pathlib import Path

import polars as pl
import pytest

from bench.run import STAGES, _stage_row, change_one_row, stage_of, summarise_job
from matchers.extract_reader import read_extract_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_Q3 = ROOT / "sample_data" / "extracts" / "2026Q3"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_changed_housing_file_differs_in_exactly_one_name(tmp_path, encoding):
    source = next(SAMPLE_Q3.glob("housing*.csv"))
    before = read_extract_file(source, "housing").rows
    raw = source.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    path = tmp_path / source.name  # the same rows as a department sending this encoding would
    path.write_bytes(text.encode(encoding))
    original = change_one_row(path)
    assert original != path.read_bytes()
    after = read_extract_file(path, "housing").rows
    assert after.height == before.height and after.columns == before.columns
    diff = [c for c in before.columns if not before[c].equals(after[c])]
    assert diff == ["name"]
    changed = before.with_columns(new=after["name"]).filter(pl.col("name") != pl.col("new"))
    assert changed.height == 1 and changed["name"][0][:-1] == changed["new"][0][:-1]


def test_every_step_of_the_quarterly_job_belongs_to_a_stage():
    from pipelines.jobs import all_asset_checks, all_assets

    names = [k.path[-1] for a in all_assets for k in a.keys]
    names += [f"{k.asset_key.path[-1]}_{k.name}" for c in all_asset_checks for k in c.check_keys]
    assert {stage_of(n) for n in names} == set(STAGES)
    assert stage_of("extract_housing") == "ingest" and stage_of("quarterly_report") == "exports"


def test_summary_sums_steps_per_stage_and_counts_only_ingested_sources():
    report = {
        "success": True, "job_seconds": 10.0, "process_seconds": 12.0, "peak_rss_mb": 900,
        "rows": {"records": 1000, "extract_data_rows": 1100,
                 "extract_data_rows_by_source": {"housing": 100, "medical": 1000}},
        "steps": [
            {"step": "extract_housing", "stage": "ingest", "seconds": 2.0, "peak_rss_mb": 300, "cpu_seconds": 1.5},
            {"step": "extract_housing_valid_id_share", "stage": "ingest", "seconds": 0.5, "peak_rss_mb": 310,
             "cpu_seconds": 0.25},
            {"step": "source_records", "stage": "resolve", "seconds": 4.0, "peak_rss_mb": 900},
            {"step": "district_workbooks", "stage": "exports", "seconds": 1.0, "peak_rss_mb": 500},
            {"step": "quarterly_report", "stage": "exports", "seconds": 1.5, "peak_rss_mb": 600},
        ],
        "refresh_changed": ["housing"],
    }
    s = summarise_job(report, refresh=True)
    assert s["stages"]["ingest"] == {
        "seconds": 2.5, "rows": 100, "rows_per_second": 40, "cpu_seconds": 1.75, "peak_rss_mb": 310,
        "steps": {"extract_housing": 2.0, "extract_housing_valid_id_share": 0.5},
    }
    assert s["stages"]["resolve"]["rows_per_second"] == 250
    assert s["stages"]["exports"]["seconds"] == 2.5 and s["stages"]["exports"]["peak_rss_mb"] == 600
    assert "flags" not in s["stages"] and s["changed"] == ["housing"]


def test_summary_of_an_incremental_refresh_counts_the_rows_re_resolved():
    report = {
        "success": True, "job_seconds": 10.0, "process_seconds": 12.0, "peak_rss_mb": 900,
        "rows": {"records": 1000, "extract_data_rows": 1100, "extract_data_rows_by_source": {"housing": 100}},
        "steps": [{"step": "source_records", "stage": "resolve", "seconds": 2.0, "peak_rss_mb": 900}],
        "resolution": {"mode": "增量匹配", "reason": "…", "rows_resolved": 100, "changed_sources": ["housing"]},
        "refresh_changed": ["housing"],
    }
    s = summarise_job(report, refresh=True)
    assert s["stages"]["resolve"]["rows"] == 100 and s["stages"]["resolve"]["mode"] == "增量匹配"
    assert s["resolution"]["rows_resolved"] == 100
    assert _stage_row("resolve", s["stages"]["resolve"])[0] == "  resolve(增量匹配)"


def test_sampler_cpu_between_two_moments_uses_the_nearest_samples():
    from bench.run import TreeSampler

    sampler = TreeSampler(pid=0)
    sampler.samples = [(10.0, 100, 1.0), (10.2, 300, 1.3), (10.4, 200, 1.7), (10.6, 150, 2.0)]
    assert sampler.cpu(10.1, 10.5) == 1.0  # 2.0 at 10.6 minus 1.0 at 10.0
    assert sampler.peak(10.1, 10.5) == 300 and sampler.peak() == 300


def test_a_share_of_rows_changes_every_nth_name_and_nothing_else(tmp_path):
    from bench.run import change_rows

    source = next(SAMPLE_Q3.glob("housing*.csv"))
    before = read_extract_file(source, "housing").rows
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    original, n = change_rows(path, 0.1)
    assert original == source.read_bytes()
    after = read_extract_file(path, "housing").rows
    assert [c for c in before.columns if not before[c].equals(after[c])] == ["name"]
    changed = before.with_columns(new=after["name"]).filter(pl.col("name") != pl.col("new"))
    assert changed.height == n and n == pytest.approx(before.height / 10, abs=1)

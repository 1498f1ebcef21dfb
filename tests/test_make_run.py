"""`make run` as an officer meets it: Chinese stage lines in local time, a summary naming rules and
output files, a failed source as one Chinese sentence without class names or stack traces."""

import os
import re
import stat
import shutil
from pathlib import Path

import pytest
from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey

from matchers.rules.engine import RULES
from pipelines.console import check_warning, stage_of
from pipelines.run_errors import officer_message

QUARTER = "2026Q3"
SAMPLE_EXTRACTS = Path(__file__).resolve().parent.parent / "sample_data" / "extracts"
LOCAL_TIME_LINE = re.compile(r"^\d\d:\d\d:\d\d 【")
# What must never reach an officer's console: Python/Dagster class names, tracebacks, framing.
TECHNICAL = re.compile(
    r"\b[A-Z]\w*(Error|Exception|Failure)\b|Traceback|Stack Trace|dagster\._|Not executing|STEP_|RUN_FAILURE|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}"
)


def _copy_quarter(sample: Path, tmp: Path) -> None:
    shutil.copytree(sample / QUARTER, tmp / "extracts" / QUARTER)


@pytest.fixture(scope="module")
def good_run(tmp_path_factory, run_quarter_cli):
    tmp = tmp_path_factory.mktemp("console_ok")
    _copy_quarter(SAMPLE_EXTRACTS, tmp)
    # a DAGSTER_HOME left readable by an older setup is made owner-only by the run
    (tmp / "dagster_home" / "storage").mkdir(parents=True, mode=0o755)
    (tmp / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.chmod(tmp / "dagster_home" / "dagster.yaml", 0o644)
    done = run_quarter_cli(tmp, QUARTER)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return tmp, done


def test_console_summary_names_rules_output_files_and_rejected_rows(good_run):
    tmp, done = good_run
    out = done.stdout
    for rule in RULES:
        assert re.search(rf"{rule.code} {re.escape(rule.title)}\s+\d+ 条", out), rule.code
    city_report = re.search(r"全市报表:(\S+\.xlsx)", out).group(1)
    assert Path(city_report).is_file() and Path(city_report).is_relative_to(tmp / "exports")
    folder = re.search(r"核查名单 \d+ 份\(每区一份\):(\S+)", out).group(1)
    assert list(Path(folder).glob("核查名单_*.xlsx"))
    assert re.search(r"拒收共 \d+ 行.*make rejected QUARTER=2026Q3", out)
    log = re.search(r"完整运行日志:(\S+)", out).group(1)
    assert "STEP_SUCCESS" in Path(log).read_text(encoding="utf-8")  # the framing went to the file


def test_everything_a_run_writes_is_owner_only(good_run):
    tmp, _ = good_run
    written = [p for p in tmp.rglob("*") if not p.is_relative_to(tmp / "extracts")]
    assert any(p.suffix == ".xlsx" for p in written) and any(p.name.endswith(".db") for p in written)
    assert any("storage" in p.parts for p in written if p.is_file())  # Dagster's run storage / event logs
    loose = [f"{p.relative_to(tmp)} {stat.filemode(p.stat().st_mode)}" for p in written
             if p.stat().st_mode & 0o077 or (p.is_dir() and p.stat().st_mode & 0o700 != 0o700)]
    assert not loose


def test_console_prints_one_chinese_line_per_stage_in_local_time_without_dagster_framing(good_run):
    _, done = good_run
    lines = done.stdout.split("\n" + "=" * 60)[0].strip().splitlines()
    assert lines and all(LOCAL_TIME_LINE.match(line) or "开始季度比对" in line for line in lines)
    for stage in ("【导入】", "【人员匹配】", "【疑点规则】", "【核查名单】", "【报表】"):
        assert any(stage in line for line in lines), stage
    assert not TECHNICAL.search(done.stdout + done.stderr)
    assert " - dagster - " not in done.stdout + done.stderr


def test_verbose_run_shows_dagster_framing(tmp_path, run_quarter_cli):
    (tmp_path / "extracts" / QUARTER).mkdir(parents=True)  # an empty quarter: every source missing
    done = run_quarter_cli(tmp_path, QUARTER, "-v")
    assert " - dagster - " in done.stderr and "STEP_START" in done.stderr


def test_failed_source_prints_file_row_column_and_no_class_name_or_traceback(tmp_path, run_quarter_cli):
    _copy_quarter(SAMPLE_EXTRACTS, tmp_path)
    housing = tmp_path / "extracts" / QUARTER / "housing_2026Q3.csv"
    raw = housing.read_bytes().decode("gb18030").replace("户主身份证号", "证件号码XX", 1)
    housing.write_bytes(raw.encode("gb18030"))
    done = run_quarter_cli(tmp_path, QUARTER)
    console = done.stdout + done.stderr
    assert done.returncode == 1
    assert "housing_2026Q3.csv" in console and "第1行" in console and "户主身份证号" in console
    assert "保持上次成功运行的结果" in console
    assert not TECHNICAL.search(console), TECHNICAL.search(console)
    log = re.search(r"完整运行日志:(\S+)", done.stdout).group(1)
    assert "Stack Trace" in Path(log).read_text(encoding="utf-8")  # the detail stays in the run log


def test_unexpected_error_is_a_chinese_sentence_pointing_to_the_log():
    try:
        raise KeyError("persons")
    except KeyError as exc:
        text = officer_message(exc, "人员匹配", log_path="/x/run.log")
    assert text.startswith("人员匹配出错") and "/x/run.log" in text and "KeyError" not in text


def test_failed_asset_check_becomes_a_warning_line():
    evaluation = AssetCheckEvaluation(
        asset_key=AssetKey("extract_medical"), check_name="rejected_share", passed=False,
        severity=AssetCheckSeverity.WARN, description="医保结算明细:拒收行占比 12%,超过 5%",
    )
    assert check_warning(evaluation) == "提醒:医保结算明细:拒收行占比 12%,超过 5%"
    assert stage_of("extract_medical_rejected_share") == "导入"
    assert stage_of("flags_rule_counts_vs_previous_quarter") == "疑点规则"


def test_rejected_rows_are_listed_with_file_row_and_reason(good_run):
    import duckdb

    from pipelines.rejected import rejected_lines

    tmp, _ = good_run
    con = duckdb.connect(str(tmp / "wh.duckdb"), read_only=True)
    try:
        total, lines = rejected_lines(con, QUARTER, limit=2)
    finally:
        con.close()
    assert total >= len(lines) == 2
    assert all(re.search(r"文件“\w+\.(csv|xlsx)”第 \d+ 行数据:\S", line) for line in lines)


def test_full_disk_in_the_warehouse_folder_names_it_in_chinese_and_changes_nothing(
    good_run, tmp_path, run_quarter_cli, published_tables
):
    base, _ = good_run
    shutil.copytree(base, tmp_path, dirs_exist_ok=True)
    shutil.copytree(SAMPLE_EXTRACTS / "2026Q2", tmp_path / "extracts" / "2026Q2")
    before = published_tables(tmp_path / "wh.duckdb")
    # the warehouse file is larger than the limit: its next write past 2 MB fails as on a full disk
    done = run_quarter_cli(tmp_path, "2026Q2", max_file_bytes=2_000_000)
    console = done.stdout + done.stderr
    assert done.returncode == 1
    assert f"磁盘空间不足:文件夹 {tmp_path} " in console
    assert "File too large" not in console and not TECHNICAL.search(console)
    assert published_tables(tmp_path / "wh.duckdb") == before


def test_full_disk_errors_name_their_folder():
    from pipelines.run_errors import full_disk_folder

    duck = [("IOException", 'IO Error: Could not write file "/srv/wh/wh.duckdb.wal": No space left on device')]
    assert full_disk_folder(duck) == "/srv/wh"
    export = [("OSError", "[Errno 28] No space left on device: '/srv/exports/2026Q3/报表_2026Q3_全市.xlsx'")]
    assert full_disk_folder(export) == "/srv/exports/2026Q3"
    sqlite = [("OperationalError", "(sqlite3.OperationalError) database or disk is full")]
    assert full_disk_folder(sqlite, ["/srv/dagster_home"]) == "/srv/dagster_home"
    assert full_disk_folder([("KeyError", "'persons'")], ["/srv"]) is None


def test_full_dagster_storage_at_the_run_boundary_is_a_chinese_sentence(tmp_path, monkeypatch, capsys):
    import sqlite3

    from pipelines import run_quarter

    def full(*_):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(run_quarter, "run", full)
    umask = os.umask(0o022)
    try:
        assert run_quarter.main([]) == run_quarter.EXIT_FAILED
    finally:
        os.umask(umask)  # main() sets the run's owner-only umask on this process
    err = capsys.readouterr().err
    assert f"磁盘空间不足:文件夹 {tmp_path / 'home'} " in err and not TECHNICAL.search(err)
    assert "OperationalError" in (tmp_path / "home" / "logs" / "make_run_errors.log").read_text(encoding="utf-8")

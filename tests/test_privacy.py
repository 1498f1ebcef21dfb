"""Privacy scan: the whole quarterly job on the committed sample leaves no unmasked ID (18- or
15-digit ID, 20-character disability certificate, G+ID student number) in any log line, event,
metadata value, exported workbook or report, or the `make run` summary; district workbooks hold
only their district's flags; exports and the warehouse are readable by the owner only."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import stat
from pathlib import Path

import duckdb
import openpyxl
import pytest
from dagster import DagsterInstance, serialize_value

from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from matchers.contract import fold_header
from pipelines.definitions import QUARTERLY_JOB_NAME, build_definitions
from pipelines.summary import print_summary

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "extracts"
QUARTER = "2026Q3"

ID18 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
ID15 = re.compile(r"(?<![0-9])[0-9]{15}(?![0-9])")
CERT20 = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx][0-9]{2}(?![0-9])")
STUDENT = re.compile(r"[GgＧ][0-9]{17}[0-9Xx]")
# Content hashes (sha256/sha1/md5 hex) and Dagster snapshot ids can hold long digit runs by chance.
HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9A-Za-z])")
# Serialised floats (step durations, timestamps) carry long fraction digits.
FLOAT = re.compile(r"(?<![0-9])[0-9]+\.[0-9]{6,}(?:[eE][-+]?[0-9]+)?")


def leaks(text: str) -> list[str]:
    text = FLOAT.sub("<float>", HEX_DIGEST.sub("<hash>", text))
    text = re.sub(r"(?<=[0-9])[,，](?=[0-9]{3})", "", text)  # 421,281,201,307,313,722 is an ID too
    found = []
    for pattern in (ID18, ID15, CERT20, STUDENT):
        found += pattern.findall(text)
    return found


_KNOWN: dict[str, set[str]] = {}


def known_identifiers(wh_path: str) -> set[str]:
    if wh_path not in _KNOWN:
        _KNOWN[wh_path] = _known_identifiers(wh_path)
    return _KNOWN[wh_path]


def _known_identifiers(wh_path: str) -> set[str]:
    """Every identifier the sample carries: valid IDs, their 15-digit form, raw ID/cert/student cells."""
    con = duckdb.connect(wh_path, read_only=True)
    try:
        ids = {r[0] for r in con.execute("SELECT id_norm FROM stg_records WHERE id_norm IS NOT NULL").fetchall()}
        raw = {
            r[0]
            for col in ("id_raw", "cert_number", "student_number", "guardian_id")
            for r in con.execute(f"SELECT {col} FROM stg_records WHERE {col} IS NOT NULL").fetchall()
        }
    finally:
        con.close()
    out = set(ids) | {i[:6] + i[8:17] for i in ids}  # the old 15-digit form
    out |= {re.sub(r"[^0-9Xx]", "", r) for r in raw}
    return {s for s in out if len(s) >= 15}


def damaged_medical_part(sample_part: Path) -> bytes:
    """A third medical file whose damage sends IDs down the warning and row-note paths: an ID
    shifted into an amount column, a ragged row with an ID in the extra cell, a row with no name
    and a 17-digit ID (quarantined), one GB18030 line in a UTF-8 file."""
    text = sample_part.read_bytes().decode("gb18030")
    rows = list(csv.reader(io.StringIO(text)))
    header, first, second = rows[0], rows[1], rows[2]
    amount = [fold_header(h) for h in header].index(fold_header("个人自付(元)"))
    settle = [fold_header(h) for h in header].index(fold_header("结算日期"))
    shifted = list(first)
    shifted[amount] = first[2]  # the person's own ID where the out-of-pocket amount should be
    shifted[settle] = first[2] + "X"  # and where the date should be
    ragged = list(second) + [second[2], "多出的列"]
    no_name = list(first)
    no_name[1], no_name[2] = "", first[2][:17]
    out = io.StringIO()
    csv.writer(out).writerows([header, shifted, ragged, no_name])
    gb_line = io.StringIO()
    csv.writer(gb_line).writerow(second)
    return out.getvalue().encode("utf-8") + gb_line.getvalue().encode("gb18030")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    extracts = root / "extracts"
    shutil.copytree(SAMPLE / QUARTER, extracts / QUARTER)
    (extracts / QUARTER / "medical_part3.csv").write_bytes(damaged_medical_part(SAMPLE / QUARTER / "medical_part1.csv"))
    wh = WarehouseResource(path=str(root / "data" / "wh.duckdb"), extracts_dir=str(extracts), exports_dir=str(root / "exports"))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [QUARTER])
    console = io.StringIO()
    with contextlib.redirect_stderr(console):  # the console logger `make run` shows, at INFO
        result = build_definitions(wh).resolve_job_def(QUARTERLY_JOB_NAME).execute_in_process(
            instance=instance, partition_key=QUARTER, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    assert result.success
    con = duckdb.connect(wh.path, read_only=True)
    try:  # the damage went where the scan must look
        issues = con.execute(
            "SELECT row_issues, out_of_pocket FROM stg_records WHERE source_file = 'medical_part3.csv' AND source_row = 1"
        ).fetchall()
        (rejected,) = con.execute("SELECT count(*) FROM stg_rejected WHERE source_file = 'medical_part3.csv'").fetchone()
    finally:
        con.close()
    assert issues and "**********" in issues[0][0] and "疑似身份证号" in issues[0][0] and issues[0][1] is None
    assert rejected == 1
    yield wh, instance, result, console.getvalue()
    instance.dispose()


def assert_clean(where: str, text: str, known: set[str]) -> None:
    found = leaks(text)
    assert not found, f"{where}: unmasked identifier(s) {[f[:4] + '…' for f in found][:5]}"
    hits = [k for k in known if k in text]
    assert not hits, f"{where}: {len(hits)} identifier(s) of the sample appear unmasked"


def test_masking_scanner_sees_an_id():
    assert leaks("身份证 420102195001011238 号") and leaks("x42010219500101123X") and leaks("G420102195001011238")
    assert leaks("420102500101123") and not leaks("4201**********1238") and not leaks("MZ4201020000165")
    assert not leaks('"duration_ms": 59.288137999828905') and leaks("自付421,281,201,307,313,722元")


def test_no_unmasked_id_in_logs_and_events(run):
    wh, instance, result, console = run
    known = known_identifiers(wh.path)
    assert len(known) > 500  # the scan looks for the sample's real identifiers
    records = instance.all_logs(result.run_id)
    assert len(records) > 50
    for record in records:
        kind = record.dagster_event.event_type_value if record.dagster_event else "log"
        assert_clean(f"event {kind} {record.step_key}", serialize_value(record), known)
    assert_clean("console log", console, known)


def test_no_unmasked_id_in_materialization_or_check_metadata(run):
    wh, _, result, _ = run
    known = known_identifiers(wh.path)
    n = 0
    for event in result.all_events:
        data = event.event_specific_data
        if event.is_step_materialization:
            metadata = data.materialization.metadata
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            metadata = data.metadata
        else:
            continue
        for key, value in metadata.items():
            n += 1
            assert_clean(f"{event.asset_key.to_user_string() if event.asset_key else ''} metadata {key}", serialize_value(value), known)
    assert n > 30


def exported_files(wh: WarehouseResource) -> list[Path]:
    return sorted(p for p in Path(wh.exports_dir).rglob("*") if p.is_file())


def test_no_unmasked_id_in_any_exported_workbook_or_report(run):
    wh, _, _, _ = run
    known = known_identifiers(wh.path)
    books = [p for p in exported_files(wh) if p.suffix == ".xlsx"]
    assert any(p.name.startswith("核查名单_") for p in books) and any(p.name.startswith("报表_") for p in books)
    cells = 0
    for path in books:
        wb = openpyxl.load_workbook(path)
        try:
            for ws in wb.worksheets:
                for row in ws.iter_rows(values_only=True):
                    text = "\t".join("" if v is None else str(v) for v in row)
                    cells += len(row)
                    assert_clean(f"{path.name}!{ws.title}", text, known)
        finally:
            wb.close()
    assert cells > 1000
    for path in exported_files(wh):
        if path.suffix in (".csv", ".txt", ".json", ".md", ".html"):
            assert_clean(path.name, path.read_text(encoding="utf-8", errors="replace"), known)


def test_run_summary_shows_no_id(run, capsys):
    wh, _, result, _ = run
    print_summary(result, QUARTER, wh.path)
    out = capsys.readouterr().out
    assert "季度 2026Q3 比对完成" in out
    assert_clean("make run summary", out, known_identifiers(wh.path))


def test_district_workbooks_hold_only_their_districts_flags(run):
    wh, _, _, _ = run
    con = duckdb.connect(wh.path, read_only=True)
    try:
        by_flag = dict(con.execute("SELECT flag_id, district FROM flags WHERE quarter = ?", [QUARTER]).fetchall())
    finally:
        con.close()
    seen: dict[str, str] = {}
    books = [p for p in exported_files(wh) if p.name.startswith(f"核查名单_{QUARTER}_")]
    assert len(books) >= 3
    for path in books:
        district = path.stem.removeprefix(f"核查名单_{QUARTER}_")
        wb = openpyxl.load_workbook(path, read_only=True)
        try:
            for ws in wb.worksheets:
                rows = list(ws.iter_rows(values_only=True))
                header = next((list(r) for r in rows if r and "核查编号(请勿修改)" in r), None)
                if header is None:
                    continue
                col = header.index("核查编号(请勿修改)")
                for r in rows[rows.index(tuple(header)) + 1:]:
                    if len(r) > col and r[col]:
                        assert by_flag[r[col]] == district, (path.name, r[col])
                        seen[r[col]] = district
        finally:
            wb.close()
    # and every flag of a district is in that district's workbook
    assert seen == {f: d for f, d in by_flag.items() if f in seen}
    assert set(seen) == set(by_flag)


def test_exports_and_warehouse_are_owner_only(run):
    wh, _, _, _ = run
    files = exported_files(wh)
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    for folder in {p.parent for p in files} | {Path(wh.exports_dir)}:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder.name
    data = Path(wh.path).parent
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in [p for p in data.iterdir() if p.is_file()]:  # warehouse, its WAL, lock, keys
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name

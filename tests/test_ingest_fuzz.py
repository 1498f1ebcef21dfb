"""Fuzz ingestion: any cell contents under a valid header never crash a load, and every data row
written lands exactly once, accepted (stg_records) or quarantined (stg_rejected)."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from assets.extracts import load_source
from matchers import warehouse
from matchers.contract import SOURCES, SPECS, TOTAL_ROW_MARKERS, fold_header
from matchers.extract_reader import ExtractFileError

QUARTER = "2026Q3"

SPECIAL = [
    "", " ", "　", "合计", "合 计", "总计:", "小计", "'420102195001011238", "420102195001011238",
    "4.20115E+17", "4.20102195001E+17", "４２０１０２１９５００１０１１２３８", "42010219500101123x",
    "420102500101123", "G420102195001011238", "J420102201001011234", "L42010220100101" + "1234",
    "42010219500101123811", "1,234.50", "１，６００元", "-5", "不详", "2026/7/1", "2026年7月1日", "46000",
    "E+17", "一级", "4级", "是", "否", "城市低保", "在保", "户主", '"', '""', ",", "\n", "\r\n", "\r",
    '"引号"内容', "逗号,在中间", "换行\n在中间", "=1+1", "=A1", "@SUM(1)", "·", "阿卜杜拉·买买提",
    "王 秀 英", "王秀英\t", "\ufeff王", "\u200b", "NULL", "None", "nan", "#N/A",
    "99999999999", "9" * 400, "1e308", "-0", "0x1F", "1_000",  # once crashed integer/date parsing
]

cell = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(max_size=30),  # any unicode: control characters, full-width, emoji, combining marks
    st.text(alphabet="0123456789Xx-. '", max_size=22),
    st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(1_000, 6_000)),  # very long
)


@st.composite
def extract(draw):
    source = draw(st.sampled_from(SOURCES))
    header = [f.aliases[0] for f in SPECS[source].fields]
    rows = draw(st.lists(st.lists(cell, min_size=len(header), max_size=len(header)), min_size=0, max_size=8))
    fmt = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "xlsx"]))
    return source, header, rows, fmt


def expected_data_rows(rows: list[list[str]]) -> int:
    """EXTRACTS.md: blank rows and 合计/总计/小计 rows are not data rows; every other row is."""
    n = 0
    for cells in rows:
        if all(not c.strip() for c in cells):
            continue
        first = next((fold_header(c) for c in cells if fold_header(c)), "")
        if first.startswith(TOTAL_ROW_MARKERS):
            continue
        n += 1
    return n


def write_file(folder: Path, source: str, header: list[str], rows: list[list[str]], fmt: str) -> tuple[Path, list[list[str]]]:
    for old in folder.iterdir():
        old.unlink()
    if fmt == "xlsx":
        # Characters XLSX cannot hold (C0 controls) do not exist in a real workbook: drop them.
        rows = [[ILLEGAL_CHARACTERS_RE.sub("", c) for c in r] for r in rows]
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(header)
        for r in rows:
            ws.append(r)
        path = folder / f"{source}_fuzz.xlsx"
        wb.save(path)
        return path, rows
    buf = io.StringIO()
    csv.writer(buf).writerows([header] + rows)
    data = buf.getvalue().encode("gb18030" if fmt == "gb18030" else "utf-8")
    path = folder / f"{source}_fuzz.csv"
    path.write_bytes((b"\xef\xbb\xbf" if fmt == "utf-8-sig" else b"") + data)
    return path, rows


@pytest.fixture(scope="module")
def workspace():
    root = Path(tempfile.mkdtemp(prefix="ingest_fuzz_"))
    folder = root / "extracts" / QUARTER
    folder.mkdir(parents=True)
    con = warehouse.connect(root / "wh.duckdb")
    try:
        yield con, root / "extracts", folder
    finally:
        con.close()
        shutil.rmtree(root, ignore_errors=True)


def _source_rows(con: duckdb.DuckDBPyConnection, table: str, source: str) -> list[int]:
    return [r[0] for r in con.execute(
        f"SELECT source_row FROM {table} WHERE quarter = ? AND source = ?", [QUARTER, source]
    ).fetchall()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=extract())
def test_random_cells_never_crash_and_every_row_lands_once(workspace, case):
    con, extracts, folder = workspace
    source, header, rows, fmt = case
    path, rows = write_file(folder, source, header, rows, fmt)
    try:
        load_source(con, str(extracts), QUARTER, source)
    except ExtractFileError as exc:
        # Only a CSV carrying NUL bytes (binary by every tool's standard) may be refused as a file.
        assert fmt != "xlsx" and any("\x00" in c for r in rows for c in r), str(exc)
        return
    want = expected_data_rows(rows)
    accepted = _source_rows(con, "stg_records", source)
    rejected = _source_rows(con, "stg_rejected", source)
    landed = sorted(accepted + rejected)
    assert landed == list(range(1, want + 1)), (want, accepted, rejected)
    (data_rows,) = con.execute(
        "SELECT data_rows FROM stg_files WHERE quarter = ? AND source = ?", [QUARTER, source]
    ).fetchone()
    assert data_rows == want
    if fmt in ("utf-8", "utf-8-sig"):
        # Text survives CSV quoting exactly: every accepted row's name is the cell written.
        name_col = header.index(SPECS[source].field("name").aliases[0])
        data = [r for r in rows if any(c.strip() for c in r)
                and not next((fold_header(c) for c in r if fold_header(c)), "").startswith(TOTAL_ROW_MARKERS)]
        got = dict(con.execute(
            "SELECT source_row, name_raw FROM stg_records WHERE quarter = ? AND source = ?", [QUARTER, source]
        ).fetchall())
        for row_number, name in got.items():
            assert name == (data[row_number - 1][name_col] or None)

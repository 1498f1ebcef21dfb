"""A whole `make run` on a quarter whose free-text cells carry ID numbers and spreadsheet formulas:
no file the run writes outside the warehouse (district lists, reports, charts, Dagster's run storage
and logs) holds one of those IDs whole, and no workbook holds a formula."""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path

from matchers.ids import check_char

QUARTER = "2026Q3"
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "extracts" / QUARTER
HOUSING = "housing_2026Q3.csv"
FORMULA = '=HYPERLINK("http://example.invalid","点此")'


def _valid_id(first17: str) -> str:
    return first17 + check_char(first17)


def _hostile_housing(path: Path, ids: list[str]) -> None:
    """Every row's street names a contact's ID, every community is a formula, one district is a
    command formula: the cells a careless export or an attacker fills."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    header = rows[0]
    street, community, district = header.index("乡镇"), header.index("村"), header.index("行政区")
    for n, row in enumerate(rows[1:]):
        row[street] = f"{row[street]}(联系人{ids[n % len(ids)]})"
        row[community] = FORMULA
    rows[1][district] = "=cmd|' /C calc'!A0"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("gb18030"))


def test_ids_and_formulas_in_free_text_never_leave_the_warehouse(tmp_path, run_quarter_cli):
    ids = [_valid_id("42010619800101123"), _valid_id("42011119750505567")]
    shutil.copytree(SAMPLE, tmp_path / "extracts" / QUARTER)
    _hostile_housing(tmp_path / "extracts" / QUARTER / HOUSING, ids)
    done = run_quarter_cli(tmp_path, QUARTER)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert not any(i in done.stdout + done.stderr for i in ids)

    written = [p for d in ("exports", "dagster_home") for p in (tmp_path / d).rglob("*") if p.is_file()]
    assert any(p.suffix == ".xlsx" for p in written) and any(p.suffix == ".db" for p in written)
    masked = [f"{i[:4]}{'*' * 10}{i[-4:]}".encode() for i in ids]
    for path in written:
        assert not any(i.encode() in path.read_bytes() for i in ids), path
    workbook_parts = {}
    for path in written:
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                workbook_parts.update({(path.name, part): z.read(part) for part in z.namelist()})
    for where, text in workbook_parts.items():
        assert b"<f>" not in text and b"<f " not in text, where
        assert not any(i.encode() in text for i in ids), where
    assert any(m in text for text in workbook_parts.values() for m in masked)  # the streets did reach the lists, masked

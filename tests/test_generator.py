"""The seeded sample generator: determinism, file layout, row numbering and the committed sample's truth."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from pathlib import Path

import openpyxl
import pytest

from matchers.contract import SOURCES, SPECS, TOTAL_ROW_MARKERS, fold_header
from sample_data import ids
from sample_data.generate import generate

QUARTERS = ["2026Q2", "2026Q3"]
SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"
RULES = ("M01", "M02", "M03", "M04", "M05", "M06", "M07", "R01", "R02", "R03", "R04", "Q01", "Q02", "Q03")


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen")
    generate(out, 40, 7, QUARTERS, log=None)
    return out


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read_rows(path: Path) -> list[list[str]]:
    """All rows of an extract file as text, independently of the pipeline's reader."""
    if path.suffix == ".xlsx":
        ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        return [["" if c is None else str(c) for c in row] for row in ws.iter_rows(values_only=True)]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return list(csv.reader(text.splitlines()))


def _data_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header (folded) and the data rows as EXTRACTS.md numbers them (blank and 合计 rows skipped)."""
    rows = _read_rows(path)
    h = next(i for i, r in enumerate(rows) if r and r[0].strip() == "序号")
    header = [fold_header(c) for c in rows[h]]
    data = []
    for r in rows[h + 1:]:
        cells = {h_: c for h_, c in zip(header, r) if h_ not in ("", "序号", "备注")}
        if not any(c.strip() for c in cells.values()):
            continue
        first = next(c.strip() for c in r if c.strip())
        if first.startswith(TOTAL_ROW_MARKERS):
            continue
        data.append(cells)
    return header, data


def _truth(root: Path, quarter: str, name: str) -> list[dict[str, str]]:
    with open(root / "truth" / quarter / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(small, tmp_path):
    generate(tmp_path / "again", 40, 7, QUARTERS, log=None)
    assert _digest(tmp_path / "again") == _digest(small)
    generate(tmp_path / "other", 40, 8, QUARTERS, log=None)
    assert _digest(tmp_path / "other") != _digest(small)


def test_every_source_has_a_file_in_both_quarters_named_by_its_key(small):
    for q in QUARTERS:
        stems = [p.stem for p in (small / "extracts" / q).iterdir()]
        for src in SOURCES:
            assert any(s.startswith(src) for s in stems), (q, src)
        assert {"medical_part1", "medical_part2"} <= set(stems)
    assert not list((small / "extracts").glob("*/truth*"))


def test_truth_row_numbers_match_the_rows_in_the_files(small):
    persons = {r["person_key"]: r for r in csv.DictReader(open(small / "truth" / "persons.csv", encoding="utf-8"))}
    for q in QUARTERS:
        truth = defaultdict(list)
        for r in _truth(small, q, "records.csv"):
            truth[r["source_file"]].append(r)
        files = sorted((small / "extracts" / q).iterdir())
        assert {p.name for p in files} == set(truth)
        for path in files:
            header, data = _data_rows(path)
            rows = truth[path.name]
            assert [int(r["source_row"]) for r in rows] == list(range(1, len(data) + 1)), path.name
            name_col = next(a for a in header if a in {fold_header(x) for x in SPECS[rows[0]["source"]].field("name").aliases})
            id_cols = {fold_header(x) for x in SPECS[rows[0]["source"]].field("id_number").aliases}
            id_col = next(a for a in header if a in id_cols)
            for cells, t in zip(data, rows):
                if t["expected"] == "rejected":
                    assert t["person_key"] == "" and cells[name_col] == ""
                    continue
                p = persons[t["person_key"]]
                labels = set(filter(None, t["corruptions"].split(";")))
                if not any(lab.startswith("name_") for lab in labels):
                    assert cells[name_col] == p["name"], (path.name, t["source_row"])
                if not labels - {lab for lab in labels if lab.startswith("name_")}:
                    assert cells[id_col] == p["id_number"], (path.name, t["source_row"])


def test_damaged_ids_are_what_their_labels_say(small):
    persons = {r["person_key"]: r for r in csv.DictReader(open(small / "truth" / "persons.csv", encoding="utf-8"))}
    for pkey, p in persons.items():
        id18 = p["id_number"]
        assert ids.is_valid(id18), pkey
        assert (int(id18[16]) % 2 == 1) == (p["sex"] == "男")
        assert id18[6:14] == p["birth_date"].replace("-", "")
    assert ids.excel_scientific("420115198001011234") == "4.20115E+17"
    assert ids.to_15("420115198001011234") == "420115800101123"
    import random

    rng = random.Random(1)
    for _ in range(200):
        assert not ids.is_valid(ids.mistype(rng, "420115198001011230"))
        assert not ids.is_valid(ids.transpose(rng, "420115198001011230"))


def test_every_header_alias_is_used_in_the_committed_sample():
    headers = set()
    for path in (SAMPLE / "extracts").glob("*/*"):
        headers |= set(_data_rows(path)[0])
    aliases = {fold_header(a) for spec in SPECS.values() for f in spec.fields for a in f.aliases}
    assert aliases - headers == set()


def test_every_rule_has_expected_flags_in_the_committed_sample():
    counts = defaultdict(int)
    for q in QUARTERS:
        for r in _truth(SAMPLE, q, "flags.csv"):
            counts[r["rule_code"]] += 1
            assert (r["household_id"] != "") == (r["rule_code"] in ("M06", "M07", "R01", "R02", "R03"))
    assert {code for code in RULES if counts[code] >= 2} == set(RULES), dict(counts)


def test_committed_sample_has_every_kind_of_damage():
    labels = set()
    for q in QUARTERS:
        for r in _truth(SAMPLE, q, "records.csv"):
            labels |= set(filter(None, r["corruptions"].split(";")))
    expected = {"id_space", "id_ideographic_space", "id_nbsp", "id_dash", "id_apostrophe", "id_fullwidth",
                "id_lowercase_x", "id_trailing_dot0", "id_15digit", "id_excel_scientific", "id_wrong_check",
                "id_mistyped_digit", "id_transposed_digits", "id_missing", "cert_only", "student_number_G_only",
                "student_number_J", "student_number_L", "name_space", "name_fullwidth", "name_traditional",
                "name_dot_variant", "name_rare_placeholder", "name_empty"}
    assert expected - labels == set()


def test_committed_sample_has_near_misses_that_the_truth_does_not_flag():
    """Values placed just on the safe side of a threshold exist and stay unflagged in the truth."""
    from sample_data.world import World, minus_months

    flagged = defaultdict(set)
    for q in QUARTERS:
        for r in _truth(SAMPLE, q, "flags.csv"):
            flagged[(q, r["rule_code"])].add(r["household_id"] or r["person_key"])
    world = World(20260930, QUARTERS)
    near = defaultdict(int)
    for fid in range(300):
        fam = world.family(fid)
        for qi, q in enumerate(QUARTERS):
            for rec in world.records(fam, qi):
                v = rec.v
                if rec.source == "poverty" and v["relation"] == "户主":
                    if v["income_per_capita"] == 780000 and v["poverty_status"] == "已脱贫":
                        near["R01"] += 1
                        assert v["household_id"] not in flagged[(q, "R01")]
                    prev, cur = v["income_prev"], v["income_per_capita"]
                    if prev and 0.25 < (prev - cur) / prev < 0.30:
                        near["R02"] += 1
                        assert v["household_id"] not in flagged[(q, "R02")]
                if rec.source == "assistance" and v["status"] == "未批准" and v["relation"] == "户主":
                    if v["status_date"] <= minus_months(world.qends[qi], 12):
                        near["M07"] += 1
                        assert v["household_id"] not in flagged[(q, "M07")]
                if rec.source == "education" and v["school_type"] == "民办" and 1980000 <= v["tuition"] < 2000000:
                    near["Q02"] += 1
                    assert rec.person.key not in flagged[(q, "Q02")]
                if rec.source == "disability" and v["grade"] == 3 and v["nursing_subsidy"] == "否":
                    near["M02"] += 1
                    assert rec.person.key not in flagged[(q, "M02")]
            if len(fam.assistance) == 2 and fam.assistance[1].status[qi] != "在保":
                near["Q01"] += 1
    assert {k for k, n in near.items() if n >= 1} == {"R01", "R02", "M07", "Q02", "M02", "Q01"}, dict(near)


def test_default_population_regenerates_the_committed_sample_byte_for_byte(tmp_path):
    """`make sample` (300 households, seed 20260930) writes exactly the committed files."""
    generate(tmp_path, 300, 20260930, QUARTERS, log=None)
    committed = {k: v for k, v in _digest(SAMPLE).items() if k.startswith(("extracts/", "truth/"))}
    assert _digest(tmp_path) == committed


@pytest.fixture(scope="module")
def city2(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("city2")
    generate(out, 400, 7, QUARTERS, log=None, population="city2")
    return out


def test_city2_is_another_population_with_its_own_name_frequencies(city2, tmp_path):
    generate(tmp_path, 400, 7, QUARTERS, log=None)

    def namesakes(root):
        persons = list(csv.DictReader(open(root / "truth" / "persons.csv", encoding="utf-8")))
        counts = defaultdict(int)
        for p in persons:
            counts[(p["name"], p["district"])] += 1
        return sum(n for n in counts.values() if n > 1) / len(persons)
    assert namesakes(city2) > namesakes(tmp_path) + 0.05
    assert "city2" in (city2 / "truth" / "README.md").read_text(encoding="utf-8")


def test_city2_patients_carry_different_diagnoses_across_settlements(city2):
    diagnoses = defaultdict(set)
    for path in (city2 / "extracts" / "2026Q3").glob("medical_part*.csv"):
        header, data = _data_rows(path)
        aliases = {fold_header(a) for a in SPECS["medical"].field("diagnosis").aliases}
        diag = next(h for h in header if h in aliases)
        for cells, t in zip(data, [r for r in _truth(city2, "2026Q3", "records.csv") if r["source_file"] == path.name]):
            if t["person_key"]:
                diagnoses[t["person_key"]].add(cells[diag])
    assert sum(1 for d in diagnoses.values() if len(d) > 1) >= 10


def test_city2_has_students_reachable_only_through_their_guardian(city2):
    """Grandchildren left off every roll of their family: RULES.md's student's households matter."""
    for q in QUARTERS:
        rows = _truth(city2, q, "records.csv")
        listed = {r["person_key"] for r in rows if r["source"] in ("assistance", "poverty")}
        flagged = {r["person_key"] for r in _truth(city2, q, "flags.csv") if r["rule_code"] == "M04"}
        assert flagged - listed, q


def test_unknown_population_is_refused_in_chinese(tmp_path):
    with pytest.raises(ValueError, match="未知的人口设定"):
        generate(tmp_path, 5, 1, QUARTERS, log=None, population="city9")


def test_city2_names_some_guardians_without_an_id(city2):
    truth = _truth(city2, "2026Q3", "records.csv")
    blanked = 0
    for path in (city2 / "extracts" / "2026Q3").glob("education*"):
        header, data = _data_rows(path)
        aliases = {fold_header(a) for a in SPECS["education"].field("guardian_id").aliases}
        col = next(h for h in header if h in aliases)
        for cells, t in zip(data, [r for r in truth if r["source_file"] == path.name]):
            if "guardian_id_missing" in t["corruptions"]:
                assert cells[col] == ""
                blanked += 1
    assert blanked >= 10

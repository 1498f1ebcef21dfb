"""A tiny hand-made warehouse for the rule tests: persons, extract rows and households.

Rows are built as dicts with only the columns a test cares about, then inserted into the
work_* tables (work_source_records, work_household_members, work_persons) for one quarter.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from matchers import warehouse
from matchers.rules.engine import VIA_GUARDIAN, VIA_MEMBER

DISTRICT = "江夏区"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def make_id(seq: int, birth: str = "19700101", region: str = "420115") -> str:
    """A valid 18-digit resident ID (MOD 11-2 check character) for test person `seq`."""
    body = f"{region}{birth}{seq % 1000:03d}"
    return body + _CHECK[sum(int(c) * w for c, w in zip(body, _WEIGHTS)) % 11]


@dataclass
class RulesWarehouse:
    con: duckdb.DuckDBPyConnection
    quarter: str = "2026Q3"
    persons: dict[str, dict] = field(default_factory=dict)
    records: list[dict] = field(default_factory=list)
    guardians: dict[str, str] = field(default_factory=dict)  # student person_id → guardian person_id
    _rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    # ---- building ------------------------------------------------------------------------------
    def person(self, person_id: str, name: str, seq: int | None = None, district: str = DISTRICT,
               id_number: str | None = "auto") -> str:
        if id_number == "auto":
            id_number = make_id(seq if seq is not None else len(self.persons) + 1)
        self.persons[person_id] = {
            "person_id": person_id, "id_number": id_number, "name": name, "district": district,
        }
        return person_id

    def row(self, source: str, person_id: str, **cols) -> dict:
        """One accepted row of `source` for the person (file `<source>.csv`, rows numbered 1, 2, ...)."""
        p = self.persons[person_id]
        source_file = cols.pop("source_file", f"{source}.csv")
        self._rows[source_file] += 1
        rec = {
            "quarter": self.quarter, "source": source, "source_file": source_file,
            "source_row": self._rows[source_file], "person_id": person_id,
            "name_raw": p["name"], "name_norm": p["name"], "id_raw": p["id_number"],
            "id_norm": p["id_number"], "id_kind": "id" if p["id_number"] else "none",
            "district": p["district"], "match_method": "身份证号一致", "match_probability": 1.0,
        }
        rec.update(cols)
        self.records.append(rec)
        return rec

    def assistance(self, household_id: str, members: list[tuple[str, str]], category: str = "城市低保",
                   status: str = "在保", status_date: dt.date | None = None) -> None:
        """An assistance household: members as (person_id, relation)."""
        for person_id, relation in members:
            self.row("assistance", person_id, household_id=household_id, relation=relation,
                     category=category, status=status, status_date=status_date or dt.date(2025, 1, 1))

    def poverty(self, household_id: str, members: list[tuple[str, str] | tuple[str, str, str]],
                poverty_status: str = "已脱贫", monitor_type: str | None = None,
                income_per_capita: float | None = 15000.0, income_prev: float | None = None) -> None:
        """A poverty household: members as (person_id, relation[, health])."""
        for member in members:
            person_id, relation = member[0], member[1]
            health = member[2] if len(member) > 2 else "健康"
            self.row("poverty", person_id, household_id=household_id, relation=relation,
                     poverty_status=poverty_status, monitor_type=monitor_type,
                     income_per_capita=income_per_capita, income_prev=income_prev, health=health)

    def disability(self, person_id: str, grade: int, nursing: bool | None = True,
                   living: bool | None = True) -> dict:
        return self.row("disability", person_id, grade=grade, category="肢体",
                        nursing_subsidy=nursing, living_subsidy=living)

    def student(self, person_id: str, guardian: str | None = None, school: str = "江夏区第一中学",
                school_type: str = "公办", tuition: float = 0.0, aid_programme: str | None = None,
                **cols) -> dict:
        if guardian:
            self.guardians[person_id] = guardian
        return self.row("education", person_id, school=school, school_type=school_type, stage="初中",
                        tuition=tuition, aid_programme=aid_programme, **cols)

    def medical(self, person_id: str, out_of_pocket: float) -> dict:
        return self.row("medical", person_id, out_of_pocket=out_of_pocket,
                        settle_date=dt.date(2026, 5, 1), total_cost=out_of_pocket * 2)

    def housing(self, person_id: str, safety_grade: str = "D", renovation: str = "未改造",
                aid_type: str = "无") -> dict:
        return self.row("housing", person_id, safety_grade=safety_grade, renovation=renovation,
                        aid_type=aid_type)

    # ---- loading -------------------------------------------------------------------------------
    def members(self) -> list[dict]:
        out: list[dict] = []
        households: dict[str, list[str]] = defaultdict(list)
        for r in self.records:
            if r["source"] in ("assistance", "poverty"):
                key = f"{r['source']}:{r['household_id']}"
                households[key].append(r["person_id"])
                out.append({
                    "quarter": self.quarter, "household_key": key, "source": r["source"],
                    "household_id": r["household_id"], "person_id": r["person_id"],
                    "relation": r["relation"], "is_head": r["relation"] == "户主", "via": VIA_MEMBER,
                })
        for student, guardian in self.guardians.items():
            for key, persons in households.items():
                if guardian in persons and student not in persons:
                    source, household_id = key.split(":", 1)
                    out.append({
                        "quarter": self.quarter, "household_key": key, "source": source,
                        "household_id": household_id, "person_id": student, "relation": None,
                        "is_head": False, "via": VIA_GUARDIAN,
                    })
        return out

    def load(self) -> None:
        """Replace the quarter's work rows with what was built (work_persons: upsert)."""
        con = self.con
        with warehouse.transaction(con):
            for table in ("work_source_records", "work_household_members"):
                con.execute(f"DELETE FROM {table} WHERE quarter = ?", [self.quarter])
            _insert(con, "work_source_records", self.records)
            _insert(con, "work_household_members", self.members())
            ids = list(self.persons)
            if ids:
                con.execute("DELETE FROM work_persons WHERE list_contains(?, person_id)", [ids])
            _insert(con, "work_persons", list(self.persons.values()))

    def next_quarter(self, quarter: str) -> RulesWarehouse:
        """A fresh builder for another quarter on the same warehouse, with the same persons."""
        return RulesWarehouse(self.con, quarter, persons=dict(self.persons))


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    if not rows:
        return
    types = dict(con.execute(f"SELECT column_name, data_type FROM information_schema.columns "
                             f"WHERE table_name = '{table}'").fetchall())
    cols = sorted({k for r in rows for k in r})
    frame = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], infer_schema_length=None)
    con.register("_fixture_rows", frame)
    try:
        select = ", ".join(f"CAST({c} AS {types[c]}) AS {c}" for c in cols)
        con.execute(f"INSERT INTO {table} BY NAME SELECT {select} FROM _fixture_rows")
    finally:
        con.unregister("_fixture_rows")


def open_warehouse(tmp_path: Path, quarter: str = "2026Q3") -> RulesWarehouse:
    return RulesWarehouse(warehouse.connect(tmp_path / "rules.duckdb"), quarter)

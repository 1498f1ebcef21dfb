"""The household page's queries: members across the six departments, their source rows, the
household's flags over the quarters and every decision on them.

A household is a `household_key` (`assistance:<id>`, `poverty:<id>`, or `person:<person_id>` for a
flag about one person outside any household roll). An officer sees a household only when one of
its flags lies in their area; every query here takes the scope like `queries` does.
"""

from __future__ import annotations

import duckdb

from matchers.contract import SPECS
from matchers.privacy import mask_id, mask_ids_in_text

from .queries import HOUSEHOLD_BASE, Scope, _rows, execute

# The person fields every source has; the page shows them as columns, the rest as key fields.
_COMMON = ("name", "id_number", "sex", "district", "street", "community")
KEY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    source: tuple((f.name, f.header) for f in spec.fields if f.name not in _COMMON)
    for source, spec in SPECS.items()
}
# Numbers that carry an ID (shown masked in the ID column instead).
_HIDDEN = {"cert_number", "student_number", "guardian_id"}
# The source_records columns the page shows (`wb_source` holds these, filed by household).
KEY_COLUMNS = tuple(sorted({name for fields in KEY_FIELDS.values() for name, _ in fields} - _HIDDEN))
SOURCE_COLUMNS = ("person_id", "source", "source_file", "source_row", "name_raw", "id_raw", "district", "street",
                  "community", "match_method", *KEY_COLUMNS)


def household_flags(con: duckdb.DuckDBPyConnection, scope: Scope, key: str) -> list[dict]:
    """Every flag of the household in any quarter within the scope (empty: not the officer's)."""
    return _rows(con, HOUSEHOLD_BASE + """
        SELECT quarter, flag_id, rule_code, district, street, person_id, name, id_masked, reason,
               first_seen, is_new, status
        FROM w ORDER BY flag_id, quarter DESC""", {**scope.params(), "key": key})


def household_quarters(con: duckdb.DuckDBPyConnection, key: str) -> list[str]:
    return [r[0] for r in execute(
        con, "SELECT DISTINCT quarter FROM wb_members WHERE household_key = $key ORDER BY quarter DESC", {"key": key}
    ).fetchall()]


def members(con: duckdb.DuckDBPyConnection, key: str, quarter: str) -> list[dict]:
    rows = _rows(con, """
        SELECT person_id, relation, is_head, via, name, id_number, sex, birth_date, district
        FROM wb_members
        WHERE household_key = $key AND quarter = $quarter
        ORDER BY is_head DESC, relation NULLS LAST, name, person_id""", {"key": key, "quarter": quarter})
    seen, out = set(), []
    for r in rows:
        if r["person_id"] in seen:
            continue
        seen.add(r["person_id"])
        r["id_masked"] = mask_id(r.pop("id_number"))
        out.append(r)
    return out


def source_rows(con: duckdb.DuckDBPyConnection, key: str, quarter: str) -> list[dict]:
    """The members' accepted rows of the quarter in every source: file, row, key fields, masked ID."""
    rows = _rows(con, f"""
        SELECT {', '.join(SOURCE_COLUMNS)}
        FROM wb_source
        WHERE household_key = $key AND quarter = $quarter
        ORDER BY source, source_file, source_row""", {"key": key, "quarter": quarter})
    for r in rows:
        r["id_masked"] = mask_id(r.pop("id_raw")) if r.get("id_raw") else ""
        r["name_raw"] = mask_ids_in_text(r["name_raw"]) if r["name_raw"] else ""
        r["fields"] = [
            (label, mask_ids_in_text(_text(r[name])))
            for name, label in KEY_FIELDS.get(r["source"], ())
            if name in r and r[name] is not None and _text(r[name]) != ""
        ]
        for name in KEY_COLUMNS:
            r.pop(name, None)
    return rows


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def decisions(con: duckdb.DuckDBPyConnection, flag_ids: list[str]) -> list[dict]:
    """Every recorded decision on these flags in the warehouse copy, newest first."""
    rows = _rows(con, """
        SELECT flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row
        FROM reviews WHERE list_contains($ids::VARCHAR[], flag_id)
        ORDER BY decided_at DESC, rowid DESC""", {"ids": flag_ids})
    for r in rows:
        r["note"] = mask_ids_in_text(r["note"]) if r["note"] else ""
    return rows


def person_id_number(con: duckdb.DuckDBPyConnection, person_id: str) -> str | None:
    """The person's full ID (only the city administrator's stated-reason reveal asks for it)."""
    row = con.execute("SELECT id_number FROM persons WHERE person_id = $p", {"p": person_id}).fetchone()
    return row[0] if row else None

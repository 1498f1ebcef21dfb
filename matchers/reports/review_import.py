"""Import a district's filled verification workbook (核查名单) into `reviews`, in two steps a command
line and a web page share:

- `read_returned_workbook(con, path)` reads and validates the file and returns an `ImportReport`:
  the rows ready to record, the rows that cannot be (each with its sheet, row and a Chinese reason)
  and the counts. It writes nothing.
- `record_decisions(con, report, reviewer)` appends the ready rows to `reviews` (never updating or
  deleting one) and writes the import's `audit_log` row, in one transaction.

Which district and which flags a returned file may decide comes from what was exported: the
`audit_log` rows of the export that wrote a file of that name (their district and flag IDs), never
from a cell of the workbook, which anyone can edit. A file no export wrote, a flag of another
district or one the export did not list are refused row by row. A row whose decision and note are
already the flag's latest review is skipped, so importing a file twice changes nothing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from matchers.contract import WUHAN_DISTRICTS
from matchers.extract_reader import file_sha256
from matchers.privacy import mask_ids_in_text
from matchers.warehouse import transaction

from ._io import audit, check_quarter
from .columns import ACTION_EXPORT, ACTION_IMPORT, WORKBOOK_NAME, workbook_name
from .labels import DECISIONS, KNOWN_DISTRICT, UNASSIGNED_DISTRICT
from .returned_rows import XLS_ADVICE, WorkbookError, clean_reviewer, read_rows

__all__ = [
    "XLS_ADVICE", "ImportReport", "ReadyRow", "RowProblem", "WorkbookError", "clean_reviewer", "import_reviews",
    "read_returned_workbook", "record_decisions",
]

# At most this many row problems are listed; the rest are counted ("另有 N 行").
PROBLEMS_LISTED = 50
_COPY_SUFFIX = re.compile(r"\s*(?:[(（]\s*\d+\s*[)）]|-?副本|[(（]已填[)）]|_已填)+$")


@dataclass
class RowProblem:
    sheet: str
    row: int  # the row number Excel shows
    flag_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"工作表“{mask_ids_in_text(self.sheet)}”第{self.row}行:{self.reason}"


@dataclass
class ReadyRow:
    sheet: str
    row: int
    flag_id: str
    decision: str
    note: str | None
    reviewer: str | None


@dataclass
class ImportReport:
    file: str  # the file's name (no folder)
    path: Path
    sha256: str
    quarter: str
    district: str  # from the export's audit_log rows
    ready: list[ReadyRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    applied: int = 0  # reviews written by record_decisions
    unchanged: int = 0  # same decision and note as the latest review: skipped
    empty: int = 0  # no decision and no note

    def summary(self, listed: int = PROBLEMS_LISTED) -> str:
        """The counts, then at most `listed` row problems and how many more there are."""
        lines = [
            f"文件 {mask_ids_in_text(self.file)}({self.quarter} {self.district}):"
            f"写入核查结论 {self.applied} 条,与已有结论相同而跳过 {self.unchanged} 条,"
            f"未填写 {self.empty} 行,无法导入 {len(self.problems)} 行。"
        ]
        lines += [f"  - {p}" for p in self.problems[:listed]]
        if len(self.problems) > listed:
            lines.append(f"  - 另有 {len(self.problems) - listed} 行无法导入,未逐行列出。")
        return "\n".join(lines)


# ---- the export a returned file came from ----------------------------------------------------------
# The export rows of a file name, oldest first (parameters $action, $file).
EXPORT_RECORD_SQL = """
SELECT quarter, district, CAST(details AS VARCHAR)
FROM audit_log
WHERE action = $action AND file = $file
ORDER BY logged_at
"""

# The (quarter, district) whose exported files listed the most of $flag_ids, with their flag IDs:
# how a renamed file is matched to its export.
EXPORT_BY_FLAGS_SQL = """
WITH listed AS (
    SELECT quarter, district, unnest(CAST(json_extract(details, '$.flag_ids') AS VARCHAR[])) AS flag_id
    FROM audit_log
    WHERE action = $action AND json_extract(details, '$.flag_ids') IS NOT NULL
),
best AS (
    SELECT quarter, district
    FROM listed
    WHERE flag_id IN (SELECT unnest($flag_ids::VARCHAR[]))
    GROUP BY quarter, district
    ORDER BY count(DISTINCT flag_id) DESC, quarter DESC, district
    LIMIT 1
)
SELECT b.quarter, b.district, list(DISTINCT l.flag_id)
FROM best AS b JOIN listed AS l USING (quarter, district)
GROUP BY ALL
"""


def exported_name(path: Path) -> str:
    """The name the export gave a returned file: a copy's " (1)" or "副本" suffix removed."""
    m = WORKBOOK_NAME.search(path.name)
    if not m:
        return path.name
    return workbook_name(m.group(1), _COPY_SUFFIX.sub("", m.group(2)))


def _export_record(con: duckdb.DuckDBPyConnection, name: str, flag_ids: list[str]
                   ) -> tuple[str, str, set[str] | None] | None:
    """(quarter, district, flag IDs the export listed, or None when it did not record them) of the
    export that wrote the file `name`, else of the export that listed most of `flag_ids`; None when
    no export fits."""
    rows = con.execute(EXPORT_RECORD_SQL, {"action": ACTION_EXPORT, "file": name}).fetchall()
    if rows:
        listed: set[str] | None = None
        for _, _, details in rows:
            ids = json.loads(details or "{}").get("flag_ids")
            if ids is not None:
                listed = (listed or set()) | set(ids)
        return rows[-1][0], rows[-1][1], listed
    best = con.execute(EXPORT_BY_FLAGS_SQL, {"action": ACTION_EXPORT, "flag_ids": flag_ids}).fetchone()
    return (best[0], best[1], set(best[2])) if best else None


# ---- validation ---------------------------------------------------------------------------------------
# The district each flag belongs to (its row in the workbook's quarter, else its latest quarter;
# a district outside the contract's list is the unassigned one, as in the export) and its latest
# review.
FLAG_STATE_SQL = """
WITH wanted AS (SELECT DISTINCT unnest($flag_ids::VARCHAR[]) AS flag_id),
flag_district AS (
    SELECT f.flag_id,
           arg_max({district}, CASE WHEN f.quarter = $quarter THEN '9999Q9' ELSE f.quarter END) AS district
    FROM flags AS f JOIN wanted USING (flag_id)
    GROUP BY f.flag_id
)
SELECT d.flag_id, d.district, l.decision, l.note
FROM flag_district AS d LEFT JOIN latest_reviews AS l USING (flag_id)
""".replace("{district}", KNOWN_DISTRICT.format(column="f.district"))


def _row_problem(r: dict) -> str | None:
    """Why a filled row cannot be recorded on its own (before looking at the warehouse), or None."""
    if r["uncached_formula"]:
        return "核查结论是公式且文件中没有保存计算结果,无法读取:请直接从下拉列表选择结论后保存,本行未导入"
    if r["decision"] == "":
        return "填写了核查说明或核查人,但没有选择核查结论,本行未导入(说明未丢失:补选结论后重新导入即可)"
    if r["flag_id"] is None:
        return "核查编号为空,无法对应到核查对象,本行未导入"
    if r["decision"] not in DECISIONS:
        shown = mask_ids_in_text(str(r["raw_decision"]))
        return f"核查结论“{shown}”不是可选值({'、'.join(DECISIONS)})之一,本行未导入"
    return None


def _group_problems(fid: str, group: list[dict], state: dict, report: ImportReport,
                    listed: set[str] | None) -> str | None:
    """Why the rows of one flag cannot be recorded, or None."""
    if fid not in state:
        return f"核查编号“{mask_ids_in_text(fid)}”在数据库中不存在,本行未导入"
    if state[fid][0] != report.district:
        return f"该条属于{state[fid][0]},不属于本名单的{report.district},本行未导入"
    if listed is not None and fid not in listed:
        return f"核查编号“{mask_ids_in_text(fid)}”不在导出给{report.district}的这份名单中,本行未导入"
    if len({(r["decision"], r["note"]) for r in group}) > 1:
        where = "、".join(f"“{r['sheet']}”第{r['row']}行" for r in group)
        return f"同一核查编号在本表中出现多次且结论或说明不一致({where}),均未导入,请核对后重新导入"
    return None


NEVER_EXPORTED = "本文件不是本系统导出的核查名单(没有它的导出记录,表中的核查编号也不在任何导出的名单中),本行未导入"


def _never_exported(path: Path, rows: list[dict]) -> ImportReport:
    """A file no export wrote: every filled row refused."""
    m = WORKBOOK_NAME.search(path.name)
    report = ImportReport(path.name, path, file_sha256(path), m.group(1) if m else "未知季度", "未知区")
    for r in rows:
        if r["decision"] == "" and r["note"] is None and not r["uncached_formula"]:
            report.empty += 1
        else:
            report.problems.append(RowProblem(r["sheet"], r["row"], r["flag_id"], NEVER_EXPORTED))
    return report


def read_returned_workbook(con: duckdb.DuckDBPyConnection, path: Path | str) -> ImportReport:
    """Read and validate a returned 核查名单; nothing is written. Raises WorkbookError (Chinese)
    when the file cannot be read at all."""
    path = Path(path)
    if not path.is_file():
        raise WorkbookError(f"{mask_ids_in_text(str(path))}:文件不存在")
    rows = read_rows(path)
    record = _export_record(con, exported_name(path), sorted({r["flag_id"] for r in rows if r["flag_id"]}))
    if record is None:
        return _never_exported(path, rows)
    quarter, district, listed = record
    check_quarter(quarter)
    report = ImportReport(path.name, path, file_sha256(path), quarter, district)
    filled = []
    for r in rows:
        if r["decision"] == "" and r["note"] is None and not r["uncached_formula"]:
            report.empty += 1  # a flag_id or reviewer alone: nothing to record
        elif problem := _row_problem(r):
            report.problems.append(RowProblem(r["sheet"], r["row"], r["flag_id"], problem))
        else:
            filled.append(r)
    state = {
        fid: (d, decision, note)
        for fid, d, decision, note in con.execute(FLAG_STATE_SQL, {
            "flag_ids": sorted({r["flag_id"] for r in filled}), "districts": list(WUHAN_DISTRICTS),
            "unassigned": UNASSIGNED_DISTRICT, "quarter": quarter,
        }).fetchall()
    }
    by_flag: dict[str, list[dict]] = {}
    for r in filled:
        by_flag.setdefault(r["flag_id"], []).append(r)
    for fid, group in by_flag.items():
        if problem := _group_problems(fid, group, state, report, listed):
            report.problems += [RowProblem(r["sheet"], r["row"], fid, problem) for r in group]
            continue
        first = group[0]
        _, last_decision, last_note = state[fid]
        if last_decision == first["decision"] and (last_note or None) == first["note"]:
            report.unchanged += len(group)
            continue
        report.unchanged += len(group) - 1
        report.ready.append(ReadyRow(first["sheet"], first["row"], fid, first["decision"], first["note"],
                                     first["reviewer"]))
    report.problems.sort(key=lambda p: (p.sheet, p.row))
    return report


# ---- recording ----------------------------------------------------------------------------------------
# Only rows that differ from the flag's latest review at this moment (an import of the same file
# running meanwhile cannot write a row twice).
INSERT_REVIEWS = """
INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row)
SELECT n.flag_id, n.decision, n.note, n.reviewer, n.decided_at, n.quarter, n.import_file, n.import_row
FROM new_reviews AS n LEFT JOIN latest_reviews AS l USING (flag_id)
WHERE l.flag_id IS NULL OR l.decision IS DISTINCT FROM n.decision OR l.note IS DISTINCT FROM n.note
RETURNING flag_id
"""

# flags.review_status shows the latest decision, in every quarter the flag appears.
UPDATE_STATUS = """
UPDATE flags SET review_status = n.decision
FROM new_reviews AS n
WHERE flags.flag_id = n.flag_id
"""

_NEW_REVIEWS_SCHEMA = {
    "flag_id": pl.String, "decision": pl.String, "note": pl.String, "reviewer": pl.String,
    "decided_at": pl.Datetime("us"), "quarter": pl.String, "import_file": pl.String, "import_row": pl.Int32,
}


def record_decisions(con: duckdb.DuckDBPyConnection, report: ImportReport, reviewer: str | None = None,
                     *, now: datetime | None = None) -> ImportReport:
    """Append the report's ready rows to `reviews` and audit the import, in one transaction.
    `reviewer` (cleaned like the workbook's 核查人 cells) is used for rows whose 核查人 is empty.
    Returns the report with `applied` set."""
    now = now or datetime.now()
    reviewer = clean_reviewer(reviewer)
    new_reviews = pl.DataFrame(
        [{"flag_id": r.flag_id, "decision": r.decision, "note": r.note, "reviewer": r.reviewer or reviewer,
          "decided_at": now, "quarter": report.quarter, "import_file": report.file, "import_row": r.row}
         for r in report.ready],
        schema=_NEW_REVIEWS_SCHEMA,
    )
    con.register("new_reviews", new_reviews)
    try:
        with transaction(con):
            written = con.execute(INSERT_REVIEWS).fetchall() if report.ready else []
            if written:
                con.execute(UPDATE_STATUS).fetchall()
            report.unchanged += len(report.ready) - len(written)
            report.applied = len(written)
            audit(
                con, action=ACTION_IMPORT, quarter=report.quarter, district=report.district, file=report.path,
                sha256=report.sha256, actor=reviewer, rows=report.applied, at=now,
                details={"unchanged": report.unchanged, "empty": report.empty, "problems": len(report.problems)},
            )
    finally:
        con.unregister("new_reviews")
    return report


def import_reviews(con: duckdb.DuckDBPyConnection, path: Path | str, *, reviewer: str | None = None,
                   now: datetime | None = None) -> ImportReport:
    """read_returned_workbook, then record_decisions."""
    return record_decisions(con, read_returned_workbook(con, path), reviewer, now=now)

"""District verification workbooks (核查名单): one XLSX per district and quarter.

Each holds the district's flags, one sheet per rule family, every text masked (cell_texts), every
cell a text or a number and never a formula. Made for a laptop and for paper: the name, ID and
decision columns frozen beside each other, landscape A4 fitted to the page width with the title
and header rows repeated on every page, the feedback deadline of the quarter (marked when it has
passed), a dropdown with the four decisions. The filled workbooks come back through
`review_import`. Every export writes an `audit_log` row per district, with the flag IDs of each
file written: the import takes a returned file's district and flags from there.

A district outside the contract's list (a department's typo, a formula typed as a district) is
shown as the unassigned district and never gets a file of its own.

Over 400 lines: the export SQL, the sheet layout and the helper process that shares a large
export are one job (what a district's file is), kept together so the layout digest covers it.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from matchers.contract import SOURCE_LABELS, WUHAN_DISTRICTS
from matchers.extract_reader import file_sha256
from matchers.privacy import mask_id
from matchers.warehouse import transaction

from . import cell_texts, columns, labels, sheet_xml
from ._io import (
    audit,
    check_quarter,
    deadline_passed,
    default_actor,
    exports_with_content,
    failure_recorded,
    frame,
    last_export_failure,
    layout_digest,
    remove_stale,
    report_deadline,
    write_private,
)
from .cell_texts import VALUE_HEADERS, sheet_values
from .columns import (
    ACTION_EXPORT,
    COL_DECISION,
    COL_SEQ,
    COLUMNS,
    FROZEN_COLUMNS,
    HEADER_ROW,
    HEADERS,
    INFO_DISTRICT,
    INFO_QUARTER,
    INFO_SHEET,
    INPUT_COLUMNS,
    TITLE_ROW,
    row_heights,
    workbook_path,
    workbooks_glob,
)
from .labels import DECISIONS, FAMILIES, KNOWN_DISTRICT, PENDING, RULE_NAMES, UNASSIGNED_DISTRICT, rule_family

# ---- export -------------------------------------------------------------------------------------
# The quarter's flags with the person's name, masked-later ID, street/community (first source
# row that has one) and the latest review: everything a workbook shows, one row per flag. The
# street of a person is looked up only for the quarter's flagged persons. Parameters: $quarter,
# $unassigned.
EXPORT_ROWS = """
WITH addr AS (
    SELECT person_id, street, community
    FROM (
        SELECT person_id, street, community,
               row_number() OVER (
                   PARTITION BY person_id ORDER BY source, source_file, source_row
               ) AS rn
        FROM source_records
        WHERE quarter = $quarter AND street IS NOT NULL
          AND person_id IN (SELECT person_id FROM flags WHERE quarter = $quarter)
    )
    WHERE rn = 1
),
export_rows AS (
    SELECT f.flag_id,
           f.rule_code,
           {district} AS district,
           a.street,
           a.community,
           p.name,
           p.id_number,
           f.reason,
           CAST(f.evidence AS VARCHAR) AS evidence,
           f.first_seen,
           l.decision AS last_decision,
           l.decided_at AS last_decided_at,
           l.note AS last_note
    FROM flags AS f
    LEFT JOIN persons AS p ON p.person_id = f.person_id
    LEFT JOIN addr AS a ON a.person_id = f.person_id
    LEFT JOIN latest_reviews AS l ON l.flag_id = f.flag_id
    WHERE f.quarter = $quarter
)
""".replace("{district}", KNOWN_DISTRICT.format(column="f.district"))

# The rows of the districts in $todo, in workbook order.
EXPORT_SQL = EXPORT_ROWS + """
SELECT flag_id, rule_code, district, street, community, name, id_number, reason, evidence, first_seen,
       last_decision, last_decided_at
FROM export_rows
WHERE list_contains($todo, district)
ORDER BY district, rule_code, street NULLS LAST, community NULLS LAST, name, flag_id
"""

# Per district: its rows and a digest of all of them, over every column of export_rows (the latest
# review's note too, which the workbook does not show: a new note always comes with a new review
# date, which it does show). Each row's 64-bit hash (positional, NULL distinct from any text), then
# the sha256 of those hashes in flag_id order. DuckDB's hash() is not a cryptographic hash and may
# change with DuckDB's version (which is part of the layout digest): a changed row keeps its hash
# with a chance of 2^-64, which is enough to decide whether a file needs writing again.
DISTRICT_DIGEST_SQL = EXPORT_ROWS + """
SELECT district,
       count(*) AS rows,
       sha256(string_agg(CAST(row_hash AS VARCHAR), ',' ORDER BY flag_id, row_hash)) AS digest
FROM (
    SELECT district,
           flag_id,
           hash(
               flag_id, rule_code, street, community, name, id_number, reason, evidence, first_seen,
               last_decision, last_decided_at, last_note
           ) AS row_hash
    FROM export_rows
)
GROUP BY district
ORDER BY district
"""

# Flags per district and rule of the quarter (the audit row's and the asset's figures).
DISTRICT_RULES_SQL = f"""
SELECT {KNOWN_DISTRICT.format(column="district")} AS district, rule_code, count(*) AS n
FROM flags WHERE quarter = $quarter
GROUP BY ALL
ORDER BY district, rule_code
"""


@dataclass
class ExportedWorkbook:
    district: str
    path: Path
    rows: int
    rules: dict[str, int]
    sha256: str
    content: str = ""  # digest of what the workbook is made of (_content_digest)
    unchanged: bool = False  # the file of an earlier export with the same content was kept
    retried: str | None = None  # the message of the quarter's previous export, when it failed


def _deadline_text(quarter: str, on: date) -> str:
    deadline = report_deadline(quarter)
    if deadline_passed(quarter, on):
        return f"反馈截止日期{deadline:%Y年%m月%d日}已过,请尽快填写“核查结论”并反馈"
    return f"请于{deadline:%Y年%m月%d日}前填写“核查结论”并反馈"


def _formats(wb: xlsxwriter.Workbook) -> dict[str, object]:
    base = {"valign": "top", "text_wrap": True, "font_size": 10}
    return {
        "title": wb.add_format({"bold": True, "font_size": 13}),
        "late": wb.add_format({"bold": True, "font_size": 13, "font_color": "#C00000"}),
        "header": wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                                 "valign": "vcenter", "font_size": 10}),
        "cell": wb.add_format({**base, "num_format": "@"}),
        "number": wb.add_format({**base, "num_format": "0"}),
        "input": wb.add_format({**base, "bg_color": "#FFF2CC", "border": 1, "num_format": "@"}),
    }


def _page_setup(ws, last_row: int) -> None:
    """Landscape A4 fitted to the page width, title and header repeated on every page, the
    identifying columns and the decision frozen beside each other."""
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(TITLE_ROW, HEADER_ROW)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&C第 &P 页,共 &N 页")
    ws.freeze_panes(HEADER_ROW + 1, FROZEN_COLUMNS)
    ws.autofilter(HEADER_ROW, 0, last_row, len(COLUMNS) - 1)


def _decision_dropdown(ws, last_row: int) -> None:
    col = HEADERS.index(COL_DECISION)
    ws.data_validation(HEADER_ROW + 1, col, max(last_row, HEADER_ROW + 1), col, {
        "validate": "list",
        "source": list(DECISIONS),
        "input_title": "核查结论",
        "input_message": "请从下拉列表中选择",
        "error_title": "核查结论无效",
        "error_message": "只能选择:" + "、".join(DECISIONS),
    })


def _write_family_sheet(ws, fmt: dict, title: str, late: bool, part: pl.DataFrame, heights: pl.Series) -> None:
    """Title, header, widths, page setup and the first data row (through xlsxwriter, so every cell
    style is registered); the other rows are spliced in after close (sheet_xml)."""
    ws.write_string(TITLE_ROW, 0, title, fmt["late"] if late else fmt["title"])
    for i, (header, width) in enumerate(COLUMNS):
        ws.write_string(HEADER_ROW, i, header, fmt["header"])
        ws.set_column(i, i, width)
    if part.height:
        first = part.row(0, named=True)
        ws.set_row(HEADER_ROW + 1, heights[0])
        ws.write_number(HEADER_ROW + 1, 0, first[COL_SEQ], fmt["number"])
        for h in VALUE_HEADERS:
            ws.write_string(HEADER_ROW + 1, HEADERS.index(h), first[h], fmt["cell"])
        for h in INPUT_COLUMNS:
            ws.write_blank(HEADER_ROW + 1, HEADERS.index(h), None, fmt["input"])
    last = HEADER_ROW + max(part.height, 1)
    _page_setup(ws, last)
    _decision_dropdown(ws, last)


def _write_info_sheet(info, fmt: dict, quarter: str, district: str, exported_at: datetime) -> None:
    info.set_column(0, 0, 14)
    info.set_column(1, 1, 80)
    deadline = report_deadline(quarter)
    late = "(已过期)" if deadline_passed(quarter, exported_at.date()) else ""
    lines = [
        (INFO_QUARTER, quarter),
        (INFO_DISTRICT, district),
        ("导出时间", f"{exported_at:%Y-%m-%d %H:%M}"),
        ("反馈截止", f"{deadline:%Y年%m月%d日}{late}(每季度最后一个月12日前)"),
        ("核查结论", "只能选择:" + "、".join(DECISIONS) + ";未核查的行请留空。"),
        ("核查说明", "写明入户核查情况,如已纳入的救助类别、不属实的原因。"),
        ("核查人", "填写核查人员姓名。"),
        ("注意", "请勿修改“核查编号”列,不要增删工作表,不要改文件名;可以排序、筛选。身份证号已脱敏。"),
    ]
    for i, (k, v) in enumerate(lines):
        info.write_string(i, 0, k, fmt["header"])
        info.write_string(i, 1, v, fmt["cell"])
    info.set_landscape()
    info.set_paper(9)


def _district_texts(rows: pl.DataFrame) -> pl.DataFrame:
    """The texts of every row once for the district (rows in workbook order), one String column
    per value column, the input columns empty."""
    return pl.DataFrame(
        {
            "family": rows.get_column("family").cast(pl.String),
            **dict(zip(VALUE_HEADERS, sheet_values(rows))),
            **{h: [None] * rows.height for h in INPUT_COLUMNS},
        },
        schema={"family": pl.String, **{h: pl.String for h in HEADERS if h != COL_SEQ}},
    )


def _build_workbook(quarter: str, district: str, rows: pl.DataFrame, exported_at: datetime) -> bytes:
    buf = io.BytesIO()
    # Every cell is written as a text or a number: never a formula, whatever a department typed.
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
                                   "strings_to_urls": False})
    wb.set_properties({"title": f"核查名单 {quarter} {district}", "subject": "社会救助数据比对核查名单",
                       "created": exported_at})  # the same export gives the same bytes
    fmt = _formats(wb)
    late = deadline_passed(quarter, exported_at.date())
    texts = _district_texts(rows)
    spliced: dict[int, tuple[pl.DataFrame, pl.Series]] = {}  # sheet number → its data rows after the first, heights
    for sheet, (family, family_name) in enumerate(FAMILIES.items(), start=1):
        part = (
            texts.filter(pl.col("family") == family)
            .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(COL_SEQ))
            .select(HEADERS)
        )
        title = f"{quarter} {district} {family_name} 核查名单(共{part.height}条;{_deadline_text(quarter, exported_at.date())})"
        heights = row_heights(part)
        _write_family_sheet(wb.add_worksheet(family_name), fmt, title, late, part, heights)
        if part.height > 1:
            spliced[sheet] = (part.slice(1), heights.slice(1))
    _write_info_sheet(wb.add_worksheet(INFO_SHEET), fmt, quarter, district, exported_at)
    wb.close()
    styles = [
        fmt["number"].xf_index if h == COL_SEQ else fmt["input"].xf_index if h in INPUT_COLUMNS
        else fmt["cell"].xf_index
        for h in HEADERS
    ]
    second = HEADER_ROW + 2  # 0-based sheet row of the second data row
    last_col = xl_col_to_name(len(HEADERS) - 1)
    return sheet_xml.splice_rows(
        buf.getvalue(),
        {
            sheet: (sheet_xml.rows_xml(rest, second, styles, heights), f"A1:{last_col}{second + rest.height}")
            for sheet, (rest, heights) in spliced.items()
        },
    )


# What shapes a workbook besides its rows: this module, the labels and the ID masking it uses,
# the writer's version.
_LAYOUT_DIGEST = layout_digest(
    [__file__, labels.__file__, sheet_xml.__file__, cell_texts.__file__, columns.__file__,
     sys.modules[mask_id.__module__].__file__, sys.modules[report_deadline.__module__].__file__],
    {"rules": RULE_NAMES, "families": FAMILIES, "decisions": DECISIONS, "pending": PENDING,
     "sources": SOURCE_LABELS},
    {"xlsxwriter": xlsxwriter.__version__, "duckdb": duckdb.__version__},
)


def _content_digest(quarter: str, district: str, rows_digest: str, late: bool) -> str:
    """What a district's workbook is made of: its rows (DISTRICT_DIGEST_SQL: flags, reasons, people,
    addresses, latest decisions), whether its deadline has passed, and its layout. Equal digests
    give the same workbook but for the export time on its 说明 sheet."""
    return hashlib.sha256(f"{_LAYOUT_DIGEST}|{quarter}|{district}|{rows_digest}|{late}".encode()).hexdigest()


def _unchanged_workbooks(con: duckdb.DuckDBPyConnection, quarter: str, exports_dir: Path | str,
                         digests: dict[str, str]) -> dict[str, str]:
    """district → sha256 of its workbook on disk, for the districts whose file is exactly one an
    earlier export wrote from the same content digest (a nightly refresh after one changed row
    rewrites only the districts it touched)."""
    kept = {}
    for district, earlier in exports_with_content(con, ACTION_EXPORT, quarter, digests).items():
        path = workbook_path(exports_dir, quarter, district)
        if path.is_file() and (sha := file_sha256(path)) in {s for s, _ in earlier}:
            kept[district] = sha
    return kept


# xlsxwriter writes cell by cell in Python (about 10 µs a cell: 2.6 M cells at city scale), so a
# large export shares its districts with one helper process (`python -m matchers.reports.workbooks`,
# rows in and bytes out through pipes: nothing is written to disk, no fork of a process that holds
# DuckDB threads). A small export stays in this process (the helper spends ~2 s importing).
# The bytes are the same either way.
PARALLEL_MIN_ROWS = 50_000


def _build_workbooks(quarter: str, parts: list[tuple[str, pl.DataFrame]], now: datetime) -> list[bytes]:
    """The workbook of every (district, rows) of `parts`, in order."""
    if (os.cpu_count() or 1) < 2 or len(parts) < 2 or sum(r.height for _, r in parts) < PARALLEL_MIN_ROWS:
        return [_build_workbook(quarter, district, rows, now) for district, rows in parts]
    # two shares of about equal rows, biggest districts first
    shares: tuple[list[int], list[int]] = ([], [])
    load = [0, 0]
    for i in sorted(range(len(parts)), key=lambda i: -parts[i][1].height):
        k = 0 if load[0] <= load[1] else 1
        shares[k].append(i)
        load[k] += parts[i][1].height
    with ThreadPoolExecutor(max_workers=1) as pool:
        elsewhere = pool.submit(_build_in_helper, quarter, [parts[i] for i in shares[1]], now)
        built = {i: _build_workbook(quarter, parts[i][0], parts[i][1], now) for i in shares[0]}
        built.update(zip(shares[1], elsewhere.result()))
    return [built[i] for i in range(len(parts))]


def _build_in_helper(quarter: str, parts: list[tuple[str, pl.DataFrame]], now: datetime) -> list[bytes]:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    proc = subprocess.run(
        [sys.executable, "-m", "matchers.reports.workbooks"],
        input=pickle.dumps((quarter, parts, now)), capture_output=True, env=env, check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["(无输出)"]
        raise RuntimeError(f"生成核查名单的辅助进程出错(退出码 {proc.returncode}):{tail[0]}")
    return pickle.loads(proc.stdout)


def _helper_main() -> None:
    """The helper process: (quarter, parts, now) pickled on stdin, the workbooks' bytes on stdout."""
    quarter, parts, now = pickle.loads(sys.stdin.buffer.read())
    sys.stdout.buffer.write(pickle.dumps([_build_workbook(quarter, d, rows, now) for d, rows in parts]))


ACTION_EXPORT_FAILED = "export_workbook_failed"


def _write_workbooks(con, quarter: str, exports_dir: Path | str, now: datetime, params: dict
                     ) -> tuple[list[ExportedWorkbook], dict[str, list[str]]]:
    """Build and write the workbooks whose content changed; (every district's workbook, the flag
    IDs of each file written)."""
    # Which districts changed is decided in DuckDB (a digest per district); only their rows are
    # fetched and built.
    counted = con.execute(DISTRICT_DIGEST_SQL, params).fetchall()
    sizes = {district: n for district, n, _ in sorted(counted)}
    late = deadline_passed(quarter, now.date())
    digests = {district: _content_digest(quarter, district, digest, late) for district, _, digest in counted}
    rules: dict[str, dict[str, int]] = {}
    for district, code, n in con.execute(DISTRICT_RULES_SQL, params).fetchall():
        rules.setdefault(district, {})[code] = n
    kept = _unchanged_workbooks(con, quarter, exports_dir, digests)
    todo = [district for district in sizes if district not in kept]
    data = pl.DataFrame(schema={"district": pl.String, "flag_id": pl.String})
    if todo:
        data = frame(con, EXPORT_SQL, {**params, "todo": todo}).with_columns(
            pl.col("rule_code").map_elements(rule_family, return_dtype=pl.String).alias("family")
        )
    parts = [(district, data.filter(pl.col("district") == district)) for district in todo]
    built = dict(zip(todo, _build_workbooks(quarter, parts, now)))
    flag_ids = {district: rows.get_column("flag_id").to_list() for district, rows in parts}
    out: list[ExportedWorkbook] = []
    for district in sizes:
        path = workbook_path(exports_dir, quarter, district)
        sha = kept[district] if district in kept else write_private(path, built[district])
        out.append(ExportedWorkbook(
            district, path, sizes[district], rules.get(district, {}), sha, digests[district], district in kept
        ))
    return out, flag_ids


def export_district_workbooks(
    con: duckdb.DuckDBPyConnection,
    quarter: str,
    exports_dir: Path | str,
    *,
    actor: str | None = None,
    now: datetime | None = None,
) -> list[ExportedWorkbook]:
    """Write one 核查名单 per district that has flags in `quarter`; return what was written.

    Workbooks of the quarter left from an earlier export for a district that no longer has flags
    are removed, so the folder always matches the warehouse. A file that cannot be written (a full
    disk) raises ExportError naming the folder, and is recorded in `audit_log`: the next export
    writes every file that is not right and says that it repeats the failed one
    (`ExportedWorkbook.retried`).
    """
    check_quarter(quarter)
    now = now or datetime.now()
    actor = actor if actor is not None else default_actor()
    params = {"quarter": quarter, "unassigned": UNASSIGNED_DISTRICT, "districts": list(WUHAN_DISTRICTS)}
    failed_before = last_export_failure(con, quarter, ACTION_EXPORT, ACTION_EXPORT_FAILED)
    with failure_recorded(con, action=ACTION_EXPORT_FAILED, quarter=quarter, actor=actor, at=now):
        out, flag_ids = _write_workbooks(con, quarter, exports_dir, now, params)
        remove_stale(Path(exports_dir) / quarter, workbooks_glob(quarter), {w.path for w in out})
    for w in out:
        w.retried = failed_before
    with transaction(con):
        for w in out:
            details = {"rules": w.rules, "content": w.content, "unchanged": w.unchanged}
            if w.district in flag_ids:
                details["flag_ids"] = flag_ids[w.district]
            audit(
                con, action=ACTION_EXPORT, quarter=quarter, district=w.district, file=w.path,
                sha256=w.sha256, actor=actor, rows=w.rows, at=now, details=details,
            )
    return out


if __name__ == "__main__":
    _helper_main()

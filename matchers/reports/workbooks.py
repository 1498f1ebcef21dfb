"""District verification workbooks (核查名单): export per district and quarter, import filled ones.

Export: one XLSX per district with that district's flags, one sheet per rule family, IDs masked,
frozen header, autofilter, a dropdown with the four decisions, note and reviewer columns and the
flag_id. Import: every filled row is validated; good rows are appended to `reviews` (never updated
or deleted), a row that cannot be applied is listed with its reason in Chinese, and a row whose
decision and note are already the flag's latest review is skipped, so importing twice changes
nothing. Every export and import writes an `audit_log` row.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from matchers.contract import SOURCE_LABELS
from matchers.extract_reader import file_sha256
from matchers.privacy import mask_id, mask_ids_in_text, mask_ids_series
from matchers.warehouse import transaction

from . import labels, sheet_xml
from ._io import (
    audit,
    check_quarter,
    default_actor,
    frame,
    exports_with_content,
    layout_digest,
    report_deadline,
    safe_part,
    write_private,
)
from .labels import (
    DECISIONS,
    FAMILIES,
    PENDING,
    RULE_NAMES,
    UNASSIGNED_DISTRICT,
    rule_family,
    rule_label,
)

# ---- workbook layout --------------------------------------------------------------------------
COL_SEQ = "序号"
COL_RULE = "规则编号"
COL_RULE_NAME = "规则名称"
COL_STREET = "街道"
COL_COMMUNITY = "社区"
COL_NAME = "姓名"
COL_ID = "身份证号"
COL_REASON = "核查原因"
COL_EVIDENCE = "数据来源"
COL_FIRST_SEEN = "首次发现"
COL_LAST_DECISION = "上次核查结论"
COL_DECISION = "核查结论"
COL_NOTE = "核查说明"
COL_REVIEWER = "核查人"
COL_FLAG_ID = "核查编号(请勿修改)"

# (header, width); the three input columns come before the flag_id.
COLUMNS: tuple[tuple[str, int], ...] = (
    (COL_SEQ, 6),
    (COL_RULE, 8),
    (COL_RULE_NAME, 22),
    (COL_STREET, 12),
    (COL_COMMUNITY, 12),
    (COL_NAME, 10),
    (COL_ID, 20),
    (COL_REASON, 60),
    (COL_EVIDENCE, 28),
    (COL_FIRST_SEEN, 9),
    (COL_LAST_DECISION, 18),
    (COL_DECISION, 16),
    (COL_NOTE, 30),
    (COL_REVIEWER, 10),
    (COL_FLAG_ID, 22),
)
INPUT_COLUMNS = (COL_DECISION, COL_NOTE, COL_REVIEWER)
TITLE_ROW, HEADER_ROW = 0, 1  # 0-based rows in the sheet; data starts under the header
INFO_SHEET = "填写说明"
INFO_QUARTER, INFO_DISTRICT = "季度", "区"
WORKBOOK_NAME = re.compile(r"核查名单_(\d{4}Q[1-4])_(.+)\.xlsx$")

ACTION_EXPORT, ACTION_IMPORT = "export_workbook", "import_workbook"


def workbook_path(exports_dir: Path | str, quarter: str, district: str) -> Path:
    return Path(exports_dir) / quarter / f"核查名单_{quarter}_{safe_part(district)}.xlsx"


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
           coalesce(f.district, $unassigned) AS district,
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
"""

# The rows of the districts in $districts, in workbook order.
EXPORT_SQL = EXPORT_ROWS + """
SELECT flag_id, rule_code, district, street, community, name, id_number, reason, evidence, first_seen,
       last_decision, last_decided_at
FROM export_rows
WHERE list_contains($districts, district)
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
DISTRICT_RULES_SQL = """
SELECT coalesce(district, $unassigned) AS district, rule_code, count(*) AS n
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


def _evidence_text(evidence: str | None) -> str:
    """`[{"source": "disability", "source_file": "d.csv", "source_row": 3}]` → `残联持证残疾人 d.csv 第3行`."""
    if not evidence:
        return ""
    try:
        items = json.loads(evidence)
    except (TypeError, ValueError):
        return mask_ids_in_text(evidence)
    if isinstance(items, dict):
        items = items.get("rows") or items.get("evidence") or [items]
    parts = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        label = SOURCE_LABELS.get(str(item.get("source")), str(item.get("source") or ""))
        where = f"{item.get('source_file') or ''} 第{item.get('source_row')}行" if item.get("source_row") else ""
        parts.append(" ".join(p for p in (label, where) if p))
    return mask_ids_in_text(";".join(parts))


def _last_decision_text(decision: str | None, decided_at: datetime | None) -> str:
    if not decision:
        return PENDING
    return f"{decision}({decided_at:%Y-%m-%d})" if decided_at else decision


# The value columns in the order they are written (every column but the three input columns).
_VALUE_HEADERS = (
    COL_SEQ, COL_RULE, COL_RULE_NAME, COL_STREET, COL_COMMUNITY, COL_NAME, COL_ID, COL_REASON,
    COL_EVIDENCE, COL_FIRST_SEEN, COL_LAST_DECISION, COL_FLAG_ID,
)

# The texts of a sheet are made column by column in polars; a value of a rare shape is handed to
# the per-row function above (_evidence_text, _last_decision_text, mask_ids_in_text), so every
# cell is exactly the text that function gives (tests/test_workbooks.py keeps the per-row
# reference and compares the bytes).
#
# Evidence as the warehouse writes it (a JSON list of {"source", "source_file", "source_row"}
# objects, keys in that order, strings without escapes or control characters, integer or null
# row): json_decode reads it exactly as json.loads does. Anything else (a dict, other keys, an
# escape, a float, invalid JSON) goes to _evidence_text.
_JSON_WS = r"[ \t\n\r]*"
_JSON_TEXT = r'(?:"[^"\\\x00-\x1f]*"|null)'
_JSON_INT = r"(?:-?(?:0|[1-9][0-9]{0,17})|null)"
_EVIDENCE_ITEM = "".join((
    r"\{", _JSON_WS, r'"source"', _JSON_WS, ":", _JSON_WS, _JSON_TEXT, _JSON_WS, ",",
    _JSON_WS, r'"source_file"', _JSON_WS, ":", _JSON_WS, _JSON_TEXT, _JSON_WS, ",",
    _JSON_WS, r'"source_row"', _JSON_WS, ":", _JSON_WS, _JSON_INT, _JSON_WS, r"\}",
))
_PLAIN_EVIDENCE = "".join((
    r"\A", _JSON_WS, r"\[", _JSON_WS,
    "(?:", _EVIDENCE_ITEM, "(?:", _JSON_WS, ",", _JSON_WS, _EVIDENCE_ITEM, ")*)?",
    _JSON_WS, r"\]", _JSON_WS, r"\z",
))
_EVIDENCE_DTYPE = pl.List(pl.Struct({"source": pl.String, "source_file": pl.String, "source_row": pl.Int64}))


def _evidence_item_text() -> pl.Expr:
    """_evidence_text of one decoded evidence item (inside list.eval), before masking."""
    item = pl.element()
    label = item.struct.field("source").replace(SOURCE_LABELS).fill_null("")
    row = item.struct.field("source_row")
    where = (
        pl.when(row.is_not_null() & (row != 0))
        .then(pl.concat_str([item.struct.field("source_file").fill_null(""), pl.lit(" 第"), row.cast(pl.String), pl.lit("行")]))
        .otherwise(pl.lit(""))
    )
    return (
        pl.when((label != "") & (where != "")).then(pl.concat_str([label, pl.lit(" "), where]))
        .when(label != "").then(label)
        .otherwise(where)
    )


def _is_text(s: pl.Series) -> bool:
    return s.dtype in (pl.String, pl.Null)


def _texts(values: list[str]) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


def _patched(texts: pl.Series, at: pl.Series, func) -> pl.Series:
    """`texts` with the values at the positions `at` (a boolean mask) replaced by func(position)."""
    idx = at.arg_true()
    return texts.scatter(idx, [func(i) for i in idx.to_list()]) if idx.len() else texts


def _evidence_texts(evidence: pl.Series) -> pl.Series:
    """_evidence_text of every value, column by column."""
    if not _is_text(evidence):
        return _texts([_evidence_text(e) for e in evidence.to_list()])
    evidence = evidence.cast(pl.String)
    plain = evidence.str.contains(_PLAIN_EVIDENCE).fill_null(False)
    texts = pl.select(
        pl.when(plain).then(evidence).str.json_decode(_EVIDENCE_DTYPE)
        .list.eval(_evidence_item_text()).list.join(";").fill_null("")
    ).to_series()
    texts = mask_ids_series(texts)
    # a rare shape, or NULL/empty: the per-row function (which masks its text itself)
    return _patched(texts, ~plain, lambda i: _evidence_text(evidence[i]))


def _last_decision_texts(decision: pl.Series, decided_at: pl.Series) -> pl.Series:
    """_last_decision_text of every (decision, decided_at)."""
    dated = decided_at.dtype in (pl.Null, pl.Date) or isinstance(decided_at.dtype, pl.Datetime)
    if not (_is_text(decision) and dated):
        return _texts([_last_decision_text(d, t) for d, t in zip(decision.to_list(), decided_at.to_list())])
    decision = decision.cast(pl.String)
    if decided_at.dtype == pl.Null:
        decided_at = decided_at.cast(pl.Date)
    texts = pl.select(
        pl.when(decision.is_null() | (decision == "")).then(pl.lit(PENDING))
        .when(decided_at.is_null()).then(decision)
        .otherwise(pl.concat_str([decision, pl.lit("("), decided_at.dt.strftime("%Y-%m-%d"), pl.lit(")")]))
    ).to_series()
    # strftime's %Y pads years under 1000 where Python's does not: those go to the per-row function.
    odd = (decided_at.is_not_null() & ~decided_at.dt.year().is_between(1000, 9999)).fill_null(False)
    return _patched(texts, odd, lambda i: _last_decision_text(decision[i], decided_at[i]))


def _str_texts(s: pl.Series, null: str) -> pl.Series:
    """`str(value or null)` (street, name, …: null="") or `str(value)` (codes: null="None") of every value."""
    if _is_text(s):
        return s.cast(pl.String).fill_null(null)
    return _texts([str(v or null) if null == "" else str(v) for v in s.to_list()])


def _sheet_values(part: pl.DataFrame) -> list[pl.Series]:
    """The texts of the value columns after 序号, one String column per _VALUE_HEADERS, made column
    by column: the same texts as the per-row functions give (`str(code)`, `str(rule_label(code))`,
    `str(street or "")`, …, `mask_id(id_number)`, `mask_ids_in_text(reason)`,
    `_evidence_text(evidence)`, `_last_decision_text(decision, decided_at)`, `str(flag_id)`)."""
    c = part.get_column
    codes = _str_texts(c("rule_code"), "None")
    if _is_text(c("rule_code")):
        names = codes.replace(RULE_NAMES)
    else:
        names = _texts([str(rule_label(v)) for v in c("rule_code").to_list()])
    if _is_text(c("reason")):
        reasons = mask_ids_series(c("reason").cast(pl.String).fill_null(""))
    else:
        reasons = _texts([mask_ids_in_text(v) for v in c("reason").to_list()])
    return [
        codes,
        names,
        _str_texts(c("street"), ""),
        _str_texts(c("community"), ""),
        _str_texts(c("name"), ""),
        _texts([mask_id(v) for v in c("id_number").to_list()]),  # per row: cheaper than polars here
        reasons,
        _evidence_texts(c("evidence")),
        _str_texts(c("first_seen"), ""),
        _last_decision_texts(c("last_decision"), c("last_decided_at")),
        _str_texts(c("flag_id"), "None"),
    ]


def _build_workbook(quarter: str, district: str, rows: pl.DataFrame, exported_at: datetime) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_numbers": False})
    wb.set_properties({"title": f"核查名单 {quarter} {district}", "subject": "社会救助数据比对核查名单",
                       "created": exported_at})  # the same export gives the same bytes
    title_fmt = wb.add_format({"bold": True, "font_size": 13})
    header_fmt = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True, "valign": "vcenter"})
    cell_fmt = wb.add_format({"text_wrap": True, "valign": "top", "num_format": "@"})
    input_fmt = wb.add_format({"bg_color": "#FFF2CC", "border": 1, "valign": "top", "text_wrap": True, "num_format": "@"})
    deadline = report_deadline(quarter)
    headers = [h for h, _ in COLUMNS]
    col = {h: i for i, h in enumerate(headers)}
    spliced: dict[int, pl.DataFrame] = {}  # sheet number (1-based) → its data rows after the first

    # The texts of every row once for the district (rows are in workbook order), one String
    # column per sheet column (the input columns empty); each sheet takes its family's rows in that
    # order and numbers them.
    texts = pl.DataFrame(
        {
            "family": rows.get_column("family").cast(pl.String),
            **dict(zip(_VALUE_HEADERS[1:], _sheet_values(rows))),
            **{h: [None] * rows.height for h in INPUT_COLUMNS},
        },
        schema={"family": pl.String, **{h: pl.String for h in headers if h != COL_SEQ}},
    )
    for sheet, (family, family_name) in enumerate(FAMILIES.items(), start=1):
        ws = wb.add_worksheet(family_name)
        part = (
            texts.filter(pl.col("family") == family)
            .with_columns(pl.int_range(1, pl.len() + 1).cast(pl.String).alias(COL_SEQ))
            .select(headers)
        )
        ws.write(
            TITLE_ROW, 0,
            f"{quarter} {district} {family_name} 核查名单(共{part.height}条;请于{deadline:%Y年%m月%d日}前填写“核查结论”并反馈)",
            title_fmt,
        )
        for i, (header, width) in enumerate(COLUMNS):
            ws.write_string(HEADER_ROW, i, header, header_fmt)
            ws.set_column(i, i, width)
        # The first data row through xlsxwriter (so both cell styles are registered); the others
        # are spliced into the sheet after close (sheet_xml).
        if part.height:
            first = part.row(0, named=True)
            for h in _VALUE_HEADERS:
                ws.write_string(HEADER_ROW + 1, col[h], first[h], cell_fmt)
            for h in INPUT_COLUMNS:
                ws.write_blank(HEADER_ROW + 1, col[h], None, input_fmt)
        if part.height > 1:
            spliced[sheet] = part.slice(1)
        last = HEADER_ROW + max(part.height, 1)
        ws.freeze_panes(HEADER_ROW + 1, 0)
        ws.autofilter(HEADER_ROW, 0, last, len(COLUMNS) - 1)
        ws.data_validation(
            HEADER_ROW + 1, col[COL_DECISION], max(last, HEADER_ROW + 1), col[COL_DECISION],
            {
                "validate": "list",
                "source": list(DECISIONS),
                "input_title": "核查结论",
                "input_message": "请从下拉列表中选择",
                "error_title": "核查结论无效",
                "error_message": "只能选择:" + "、".join(DECISIONS),
            },
        )

    info = wb.add_worksheet(INFO_SHEET)
    info.set_column(0, 0, 14)
    info.set_column(1, 1, 80)
    lines = [
        (INFO_QUARTER, quarter),
        (INFO_DISTRICT, district),
        ("导出时间", f"{exported_at:%Y-%m-%d %H:%M}"),
        ("反馈截止", f"{deadline:%Y年%m月%d日}(每季度最后一个月12日前)"),
        ("核查结论", "只能选择:" + "、".join(DECISIONS) + ";未核查的行请留空。"),
        ("核查说明", "写明入户核查情况,如已纳入的救助类别、不属实的原因。"),
        ("核查人", "填写核查人员姓名。"),
        ("注意", "请勿修改“核查编号”列,不要增删工作表;可以排序、筛选。身份证号已脱敏。"),
    ]
    for i, (k, v) in enumerate(lines):
        info.write_string(i, 0, k, header_fmt)
        info.write_string(i, 1, v, cell_fmt)
    wb.close()
    styles = [input_fmt.xf_index if h in INPUT_COLUMNS else cell_fmt.xf_index for h in headers]
    second = HEADER_ROW + 2  # 0-based sheet row of the second data row
    last_col = xl_col_to_name(len(headers) - 1)
    return sheet_xml.splice_rows(
        buf.getvalue(),
        {
            sheet: (sheet_xml.rows_xml(rest, second, styles), f"A1:{last_col}{second + rest.height}")
            for sheet, rest in spliced.items()
        },
    )


# What shapes a workbook besides its rows: this module, the labels and the ID masking it uses,
# the writer's version.
_LAYOUT_DIGEST = layout_digest(
    [__file__, labels.__file__, sheet_xml.__file__, sys.modules[mask_id.__module__].__file__, sys.modules[report_deadline.__module__].__file__],
    {"rules": RULE_NAMES, "families": FAMILIES, "decisions": DECISIONS, "pending": PENDING,
     "sources": SOURCE_LABELS},
    {"xlsxwriter": xlsxwriter.__version__, "duckdb": duckdb.__version__},
)


def _content_digest(quarter: str, district: str, rows_digest: str) -> str:
    """What a district's workbook is made of: its rows (DISTRICT_DIGEST_SQL: flags, reasons, people,
    addresses, latest decisions) and its layout. Equal digests give the same workbook but for the
    export time on its 说明 sheet."""
    return hashlib.sha256(f"{_LAYOUT_DIGEST}|{quarter}|{district}|{rows_digest}".encode()).hexdigest()


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
    are removed, so the folder always matches the warehouse.
    """
    check_quarter(quarter)
    now = now or datetime.now()
    actor = actor if actor is not None else default_actor()
    params = {"quarter": quarter, "unassigned": UNASSIGNED_DISTRICT}
    # Which districts changed is decided in DuckDB (a digest per district); only their rows are
    # fetched and built.
    counted = con.execute(DISTRICT_DIGEST_SQL, params).fetchall()
    sizes = {district: n for district, n, _ in sorted(counted)}
    digests = {district: _content_digest(quarter, district, digest) for district, _, digest in counted}
    rules: dict[str, dict[str, int]] = {}
    for district, code, n in con.execute(DISTRICT_RULES_SQL, params).fetchall():
        rules.setdefault(district, {})[code] = n
    kept = _unchanged_workbooks(con, quarter, exports_dir, digests)
    todo = [district for district in sizes if district not in kept]
    data = pl.DataFrame()
    if todo:
        data = frame(con, EXPORT_SQL, {**params, "districts": todo}).with_columns(
            pl.col("rule_code").map_elements(rule_family, return_dtype=pl.String).alias("family")
        )
    parts = [(district, data.filter(pl.col("district") == district)) for district in todo]
    built = dict(zip(todo, _build_workbooks(quarter, parts, now)))
    out: list[ExportedWorkbook] = []
    for district in sizes:
        path = workbook_path(exports_dir, quarter, district)
        sha = kept[district] if district in kept else write_private(path, built[district])
        out.append(ExportedWorkbook(
            district, path, sizes[district], rules.get(district, {}), sha, digests[district], district in kept
        ))
    written = {w.path for w in out}
    quarter_dir = Path(exports_dir) / quarter
    if quarter_dir.is_dir():
        for old in quarter_dir.glob(f"核查名单_{quarter}_*.xlsx"):
            if old not in written:
                old.unlink()
    with transaction(con):
        for w in out:
            audit(
                con, action=ACTION_EXPORT, quarter=quarter, district=w.district, file=w.path,
                sha256=w.sha256, actor=actor, rows=w.rows, at=now,
                details={"rules": w.rules, "content": w.content, "unchanged": w.unchanged},
            )
    return out


# ---- import -------------------------------------------------------------------------------------
@dataclass
class RowProblem:
    sheet: str
    row: int  # the row number Excel shows
    flag_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"工作表“{self.sheet}”第{self.row}行:{self.reason}"


@dataclass
class ImportResult:
    file: str
    quarter: str
    district: str
    applied: int = 0  # reviews written
    unchanged: int = 0  # same decision and note as the latest review: skipped
    empty: int = 0  # no decision: skipped silently
    problems: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"文件 {self.file}({self.quarter} {self.district}):"
            f"写入核查结论 {self.applied} 条,与已有结论相同而跳过 {self.unchanged} 条,"
            f"未填写核查结论 {self.empty} 行,无法导入 {len(self.problems)} 行。"
        ]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class WorkbookError(ValueError):
    """The file is not a 核查名单 this importer can read (message in Chinese)."""


def _norm_decision(value: object) -> str:
    if value is None:
        return ""
    s = unicodedata.normalize("NFKC", str(value))
    return "".join(ch for ch in s if not ch.isspace())


def _norm_text(value: object) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def _norm_header(value: object) -> str:
    return _norm_decision(value)


def _workbook_identity(wb, path: Path) -> tuple[str, str]:
    quarter = district = None
    if INFO_SHEET in wb.sheetnames:
        for row in wb[INFO_SHEET].iter_rows(min_row=1, max_row=20, max_col=2, values_only=True):
            key = _norm_header(row[0]) if row else ""
            if key == INFO_QUARTER and row[1]:
                quarter = str(row[1]).strip()
            elif key == INFO_DISTRICT and row[1]:
                district = str(row[1]).strip()
    m = WORKBOOK_NAME.search(path.name)
    if m:
        quarter = quarter or m.group(1)
        district = district or m.group(2)
    if not quarter or not district:
        raise WorkbookError(f"{path.name}:找不到“{INFO_SHEET}”工作表中的季度和区,也无法从文件名识别,不是本系统导出的核查名单")
    check_quarter(quarter)
    return quarter, district


def _read_rows(wb, path: Path) -> list[dict]:
    """Every data row of every family sheet: sheet, Excel row number, flag_id, decision, note, reviewer."""
    wanted = {_norm_header(h): h for h in (COL_FLAG_ID, *INPUT_COLUMNS)}
    flag_key = _norm_header(COL_FLAG_ID)
    rows: list[dict] = []
    seen_sheet = False
    for ws in wb.worksheets:
        if ws.title == INFO_SHEET:
            continue
        header_at, cols = None, {}
        for r_idx, row in enumerate(ws.iter_rows(min_row=1, max_row=6, values_only=True), start=1):
            found = {}
            for c_idx, cell in enumerate(row):
                key = _norm_header(cell)
                # Accept the flag_id header with or without its "(请勿修改)" suffix.
                if key.startswith("核查编号"):
                    key = flag_key
                if key in wanted and wanted[key] not in found:
                    found[wanted[key]] = c_idx
            if COL_FLAG_ID in found and COL_DECISION in found:
                header_at, cols = r_idx, found
                break
        if header_at is None:
            continue
        seen_sheet = True
        for r_idx, row in enumerate(ws.iter_rows(min_row=header_at + 1, values_only=True), start=header_at + 1):
            def cell(name: str):
                i = cols.get(name)
                return row[i] if i is not None and i < len(row) else None

            flag_id, decision = _norm_text(cell(COL_FLAG_ID)), cell(COL_DECISION)
            note, reviewer = _norm_text(cell(COL_NOTE)), _norm_text(cell(COL_REVIEWER))
            if flag_id is None and _norm_decision(decision) == "" and note is None and reviewer is None:
                continue  # blank row
            rows.append(
                {"sheet": ws.title, "row": r_idx, "flag_id": flag_id, "decision": _norm_decision(decision),
                 "raw_decision": decision, "note": note, "reviewer": reviewer}
            )
    if not seen_sheet:
        raise WorkbookError(f"{path.name}:没有找到含“{COL_FLAG_ID}”和“{COL_DECISION}”列的工作表,不是本系统导出的核查名单")
    return rows


# The district each flag belongs to (its row in the workbook's quarter, else its latest quarter)
# and its latest review. Parameters: unassigned label, quarter, flag_ids, flag_ids.
FLAG_STATE_SQL = """
WITH wanted AS (SELECT DISTINCT unnest(?::VARCHAR[]) AS flag_id),
flag_district AS (
    SELECT f.flag_id,
           arg_max(coalesce(f.district, ?), CASE WHEN f.quarter = ? THEN '9999Q9' ELSE f.quarter END) AS district
    FROM flags AS f JOIN wanted USING (flag_id)
    GROUP BY f.flag_id
)
SELECT d.flag_id, d.district, l.decision, l.note
FROM flag_district AS d LEFT JOIN latest_reviews AS l USING (flag_id)
"""

INSERT_REVIEWS = """
INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row)
SELECT flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row FROM new_reviews
"""

# flags.review_status shows the latest decision, in every quarter the flag appears.
UPDATE_STATUS = """
UPDATE flags SET review_status = n.decision
FROM new_reviews AS n
WHERE flags.flag_id = n.flag_id
"""


def import_reviews(
    con: duckdb.DuckDBPyConnection,
    path: Path | str,
    *,
    reviewer: str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Validate a filled 核查名单 and append its decisions to `reviews` (one transaction).

    `reviewer` is used for rows whose 核查人 cell is empty. Rows that cannot be applied are
    returned in `problems`; the others are applied.
    """
    path = Path(path)
    now = now or datetime.now()
    if not path.is_file():
        raise WorkbookError(f"{path}:文件不存在")
    import openpyxl  # only the import reads workbooks: the export (and its helper process) never loads it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # not an xlsx, corrupt, missing
        raise WorkbookError(f"{path.name}:无法作为 Excel 工作簿打开({type(exc).__name__})") from exc
    try:
        quarter, district = _workbook_identity(wb, path)
        rows = _read_rows(wb, path)
    finally:
        wb.close()
    result = ImportResult(path.name, quarter, district)

    filled = []
    for r in rows:
        if r["decision"] == "":
            result.empty += 1
        elif r["flag_id"] is None:
            result.problems.append(RowProblem(r["sheet"], r["row"], None, "核查编号为空,无法对应到核查对象,本行未导入"))
        elif r["decision"] not in DECISIONS:
            result.problems.append(RowProblem(
                r["sheet"], r["row"], r["flag_id"],
                f"核查结论“{mask_ids_in_text(r['raw_decision'])}”不是可选值({'、'.join(DECISIONS)})之一,本行未导入",
            ))
        else:
            filled.append(r)

    ids = sorted({r["flag_id"] for r in filled})
    state = {
        fid: (d, dec, note)
        for fid, d, dec, note in con.execute(
            FLAG_STATE_SQL, [ids, UNASSIGNED_DISTRICT, quarter]
        ).fetchall()
    }

    # A flag_id filled in several rows: one review if they agree, none if they disagree.
    by_flag: dict[str, list[dict]] = {}
    for r in filled:
        by_flag.setdefault(r["flag_id"], []).append(r)

    new = []
    for fid, group in by_flag.items():
        first = group[0]
        if fid not in state:
            for r in group:
                result.problems.append(RowProblem(
                    r["sheet"], r["row"], fid, f"核查编号“{mask_ids_in_text(fid)}”在数据库中不存在,本行未导入"
                ))
            continue
        flag_district, last_decision, last_note = state[fid]
        if flag_district != district:
            for r in group:
                result.problems.append(RowProblem(
                    r["sheet"], r["row"], fid, f"该条属于{flag_district},不属于本名单的{district},本行未导入"
                ))
            continue
        if len({(r["decision"], r["note"]) for r in group}) > 1:
            where = "、".join(f"“{r['sheet']}”第{r['row']}行" for r in group)
            for r in group:
                result.problems.append(RowProblem(
                    r["sheet"], r["row"], fid,
                    f"同一核查编号在本表中出现多次且结论或说明不一致({where}),均未导入,请核对后重新导入",
                ))
            continue
        if last_decision == first["decision"] and (last_note or None) == first["note"]:
            result.unchanged += len(group)
            continue
        result.unchanged += len(group) - 1
        new.append({
            "flag_id": fid,
            "decision": first["decision"],
            "note": first["note"],
            "reviewer": first["reviewer"] or reviewer,
            "decided_at": now,
            "quarter": quarter,
            "import_file": path.name,
            "import_row": first["row"],
        })

    result.applied = len(new)
    result.problems.sort(key=lambda p: (p.sheet, p.row))
    new_reviews = pl.DataFrame(
        new,
        schema={
            "flag_id": pl.String, "decision": pl.String, "note": pl.String, "reviewer": pl.String,
            "decided_at": pl.Datetime("us"), "quarter": pl.String, "import_file": pl.String,
            "import_row": pl.Int32,
        },
    )
    sha = file_sha256(path)
    con.register("new_reviews", new_reviews)
    try:
        with transaction(con):
            if new:
                con.execute(INSERT_REVIEWS).fetchall()
                con.execute(UPDATE_STATUS).fetchall()
            audit(
                con, action=ACTION_IMPORT, quarter=quarter, district=district, file=path, sha256=sha,
                actor=reviewer, rows=result.applied, at=now,
                details={"unchanged": result.unchanged, "empty": result.empty, "problems": len(result.problems)},
            )
    finally:
        con.unregister("new_reviews")
    return result


if __name__ == "__main__":
    _helper_main()

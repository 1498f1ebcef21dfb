"""Run the 14 rules of ../shared/contract/RULES.md for one quarter and write `work_flags`.

The rules are DuckDB SQL in `matchers/rules/sql/` (one file per rule, plus `00_context.sql` with
the shared terms). This module binds their parameters (thresholds from the config, category
values from `matchers.contract`), gives each finding its stable flag_id (the SQL macro
`flag_id` of `00_context.sql`), first_seen and review_status, and records the thresholds in force. Publishing is `warehouse.publish_quarter`.

Pure library: no Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from matchers import contract, ids, privacy
from matchers.contract import PENDING_REVIEW, REVIEW_DECISIONS  # noqa: F401 (the reports read them here)
from matchers.quarters import previous_compared_quarter, quarter_end
from matchers.resolution.spec import METHOD_REVIEW
from matchers.rules import scope
from matchers.rules.config import SETTING_NAMES, RuleConfig, load_config
from matchers.warehouse import execute_script, publish_difference, transaction

SQL_DIR = Path(__file__).parent / "sql"
CONTEXT_SQL = "00_context.sql"

# Resolution marks rows that reached their person by a probabilistic link in the review band
# with this match_method (any method containing REVIEW_BAND_MARKER counts too).
REVIEW_BAND_METHOD = METHOD_REVIEW
REVIEW_BAND_MARKER = "待核实"

# How a reason names each id_kind (set by matchers.ids) that leaves a row with no usable ID.
ID_KIND_LABELS: dict[str, str] = {
    ids.KIND_NONE: "身份证号缺失",
    ids.KIND_TRUNCATED: "身份证号被Excel截断",
    ids.KIND_STUDENT_J: "仅有J字头学籍号",
    ids.KIND_STUDENT_L: "仅有L字头临时学籍号",
    ids.KIND_UNRECOGNISED: "身份证号无法识别",
}
NO_USABLE_ID_KINDS: tuple[str, ...] = tuple(sorted(ids.NO_USABLE_ID_KINDS))


# household_members.via: a person listed on the roll itself, and a student reached through a
# guardian listed on it (a student's household, not a member: RULES.md "Household").
VIA_MEMBER = "member"
VIA_GUARDIAN = "guardian"

POVERTY_LIFTED, POVERTY_UNLIFTED, POVERTY_RELAPSED = contract.POVERTY_STATUSES
RENOVATED = contract.RENOVATION_STATES[0]
NO_HOUSING_AID = contract.HOUSING_AID_TYPES[-1]
PUBLIC_SCHOOL, PRIVATE_SCHOOL = contract.SCHOOL_TYPES

FAMILIES: dict[str, str] = {
    "M": "应保未保、应补未补",
    "R": "返贫风险",
    "Q": "错保疑点、身份核实",
}


@dataclass(frozen=True)
class Rule:
    code: str
    title: str
    sql_file: str
    needs_previous_quarter: bool = False

    @property
    def family(self) -> str:
        return FAMILIES[self.code[0]]

    def sql(self) -> str:
        return (SQL_DIR / self.sql_file).read_text(encoding="utf-8")


RULES: tuple[Rule, ...] = (
    Rule("M01", "按人施保未落实", "m01_severe_not_covered.sql"),
    Rule("M02", "重度残疾人护理补贴未落实", "m02_nursing_subsidy_missing.sql"),
    Rule("M03", "困难残疾人生活补贴未落实", "m03_living_subsidy_missing.sql"),
    Rule("M04", "教育资助未落实", "m04_education_aid_missing.sql"),
    Rule("M05", "住房安全未保障", "m05_housing_unsafe.sql"),
    Rule("M06", "疑似支出型贫困", "m06_expenditure_poverty.sql"),
    Rule("M07", "申请被拒后困难加重", "m07_refused_now_worse.sql"),
    Rule("R01", "收入低于监测线", "r01_income_below_line.sql"),
    Rule("R02", "收入大幅下降", "r02_income_drop.sql"),
    Rule("R03", "因病返贫风险", "r03_medical_burden.sql"),
    Rule("R04", "新增重度残疾", "r04_new_severe_disability.sql", needs_previous_quarter=True),
    Rule("Q01", "重复享受救助", "q01_duplicate_assistance.sql"),
    Rule("Q02", "高收费学校疑点", "q02_high_fee_school.sql"),
    Rule("Q03", "身份待核实", "q03_identity_unverified.sql"),
)
RULE_CODES: tuple[str, ...] = tuple(r.code for r in RULES)
RULES_BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}

def twelve_months_before(day: dt.date) -> dt.date:
    """The same day 12 months earlier (quarter ends are month ends, so this is exact)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)




def rule_parameters(quarter: str, prev_quarter: str | None, scoped: bool = False) -> dict[str, object]:
    """Every named parameter the rule SQL may use. Category values come from matchers.contract.
    scoped: only the persons in the temp table r_scope (matchers.rules.scope)."""
    end = quarter_end(quarter)
    return {
        "quarter": quarter,
        "scoped": scoped,
        "quarter_end": end,
        "window_start": twelve_months_before(end),
        "prev_quarter": prev_quarter,
        "src_assistance": "assistance",
        "src_poverty": "poverty",
        "src_disability": "disability",
        "src_education": "education",
        "src_housing": "housing",
        "src_medical": "medical",
        "sources": list(contract.SOURCES),
        "source_labels": [contract.SOURCE_LABELS[s] for s in contract.SOURCES],
        "head_relation": contract.RELATION_HEAD,
        "via_guardian": VIA_GUARDIAN,
        "dibao": list(contract.DIBAO),
        "tekun": list(contract.TEKUN),
        "status_active": contract.STATUS_ACTIVE,
        "status_refused": contract.STATUS_REFUSED,
        "severe_grades": list(contract.SEVERE_GRADES),
        "grade_labels": [contract.GRADES[g] for g in sorted(contract.GRADES)],
        "serious_illness": contract.SERIOUS_ILLNESS,
        "poverty_lifted": POVERTY_LIFTED,
        "poverty_unlifted": [POVERTY_UNLIFTED, POVERTY_RELAPSED],
        "unsafe_grades": list(contract.UNSAFE_GRADES),
        "renovated": RENOVATED,
        "no_housing_aid": NO_HOUSING_AID,
        "private_school": PRIVATE_SCHOOL,
        "no_usable_id_kinds": list(NO_USABLE_ID_KINDS),
        "id_kind_labels": [ID_KIND_LABELS.get(k, "身份证号不可用") for k in NO_USABLE_ID_KINDS],
        "review_band_method": REVIEW_BAND_METHOD,
        "review_band_marker": REVIEW_BAND_MARKER,
        "pending_review": PENDING_REVIEW,
    }


def _check_sources(params: dict[str, object]) -> None:
    for key, value in params.items():
        if key.startswith("src_") and value not in contract.SOURCES:
            raise AssertionError(f"{key}={value!r} is not a contract source")


_HITS_DDL = """
CREATE OR REPLACE TEMP TABLE r_hits (
    rule_code     VARCHAR,
    person_id     VARCHAR,
    household_key VARCHAR,
    district      VARCHAR,
    reason        VARCHAR,
    evidence      STRUCT(source VARCHAR, source_file VARCHAR, source_row INTEGER)[]
)
"""

# first_seen from the published flags of other quarters, and the latest officer decision: the
# CTEs `seen` and `decided` of both _FINAL_SQL and _MERGE_SQL.
_SEEN_DECIDED = """seen AS (
    SELECT flag_id, min(quarter) AS first_quarter
    FROM flags
    WHERE quarter <> $quarter
    GROUP BY flag_id
),
decided AS (
    SELECT flag_id, decision FROM latest_reviews
)
"""

# The findings with their stable id, first_seen from the published flags of other quarters and
# the latest officer decision (reviews are only read, never written).
_FINAL_SQL = """
CREATE OR REPLACE TEMP TABLE r_flags AS
WITH ids AS (
    SELECT h.*, flag_id(h.rule_code, h.person_id, h.household_key) AS flag_id
    FROM r_hits h
),
""" + _SEEN_DECIDED + """SELECT $quarter AS quarter,
       i.flag_id,
       i.rule_code,
       i.person_id,
       i.household_key,
       coalesce(i.district, l.district) AS district,
       i.reason,
       CAST(to_json(list_sort(list_distinct(i.evidence))) AS JSON) AS evidence,
       least($quarter, coalesce(s.first_quarter, $quarter)) AS first_seen,
       coalesce(d.decision, $pending_review) AS review_status
FROM ids i
LEFT JOIN r_label l USING (person_id)
LEFT JOIN seen s USING (flag_id)
LEFT JOIN decided d USING (flag_id)
QUALIFY row_number() OVER (PARTITION BY i.flag_id ORDER BY i.reason) = 1
"""

# A scoped run (matchers.rules.scope): the published flags of the persons outside r_scope are kept
# (they were computed from the same inputs), r_flags holds the recomputed ones of the persons in it;
# first_seen and review_status are recomputed for every flag of the quarter, as `_FINAL_SQL` does.
_MERGE_SQL = """
CREATE OR REPLACE TEMP TABLE r_flags AS
WITH merged AS (
    SELECT quarter, flag_id, rule_code, person_id, household_key, district, reason, evidence
    FROM flags
    WHERE quarter = $quarter AND person_id NOT IN (SELECT person_id FROM r_scope)
    UNION ALL
    SELECT quarter, flag_id, rule_code, person_id, household_key, district, reason, evidence
    FROM r_flags
),
""" + _SEEN_DECIDED + """SELECT m.*,
       least($quarter, coalesce(s.first_quarter, $quarter)) AS first_seen,
       coalesce(d.decision, $pending_review) AS review_status
FROM merged m
LEFT JOIN seen s USING (flag_id)
LEFT JOIN decided d USING (flag_id)
"""


@dataclass
class RuleRun:
    """What one run of the rules found (for the asset's metadata and the tests)."""

    quarter: str
    run_id: str
    previous_quarter: str | None
    counts: dict[str, int]
    new: int
    carried: int
    resolved: int
    skipped: dict[str, str] = field(default_factory=dict)  # rule_code → why (Chinese)
    config_source: str = ""
    warnings: tuple[str, ...] = ()
    mode: str = scope.MODE_FULL  # 全量比对 / 局部比对
    mode_reason: str = ""
    scope: dict = field(default_factory=dict)  # persons in scope, touched, changed rows (scope.Decision)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _thresholds_table(con: duckdb.DuckDBPyConnection, config: RuleConfig) -> list[tuple]:
    districts = [
        r[0]
        for r in con.execute(
            """
            SELECT DISTINCT district FROM r_rec WHERE district IS NOT NULL
            UNION SELECT DISTINCT district FROM r_label WHERE district IS NOT NULL
            ORDER BY 1
            """
        ).fetchall()
    ]
    rows = config.table(districts)
    cols = ", ".join(f"{s} DOUBLE" for s in SETTING_NAMES)
    con.execute(f"CREATE OR REPLACE TEMP TABLE r_thresholds (district VARCHAR, {cols})")
    placeholders = ", ".join("?" for _ in range(len(SETTING_NAMES) + 1))
    con.executemany(f"INSERT INTO r_thresholds VALUES ({placeholders})", rows)
    return rows


def compute_flags(
    con: duckdb.DuckDBPyConnection, quarter: str, config: RuleConfig, scoped: bool = False,
    prev: str | None = None,
) -> tuple[str | None, dict[str, str]]:
    """Run every rule for `quarter` into the temp table r_flags (work_flags' columns).

    scoped: over the rows of the persons in the temp table r_scope only (their flags alone), else
    over the whole quarter. Returns (previous quarter, rules skipped with the reason).
    """
    if prev is None:
        prev = previous_compared_quarter(con, quarter)
    if not scoped:
        scope.create_empty_scope(con)
    params = rule_parameters(quarter, prev, scoped)
    _check_sources(params)
    privacy.install_sql_macros(con)
    execute_script(con, (SQL_DIR / CONTEXT_SQL).read_text(encoding="utf-8"), params)
    _thresholds_table(con, config)
    con.execute(_HITS_DDL)
    skipped: dict[str, str] = {}
    for rule in RULES:
        if rule.needs_previous_quarter and prev is None:
            skipped[rule.code] = f"{quarter} 之前没有上一季度的数据,{rule.code} {rule.title} 本次不比对"
            continue
        try:
            execute_script(con, f"INSERT INTO r_hits BY NAME SELECT * FROM (\n{rule.sql()}\n)", params)
        except duckdb.Error as exc:
            raise RuntimeError(f"rule {rule.code} ({rule.sql_file}) failed: {exc}") from exc
    execute_script(con, _FINAL_SQL, params)
    return prev, skipped


def _config_log_rows(config: RuleConfig) -> list[tuple[str | None, str, float]]:
    rows: list[tuple[str | None, str, float]] = []
    for district in [None, *sorted(config.districts)]:
        for setting, value in config.for_district(district).items():
            rows.append((district, setting, value))
    return rows


def run_rules(
    con: duckdb.DuckDBPyConnection,
    quarter: str,
    config: RuleConfig | None = None,
    run_id: str | None = None,
    force_full: bool = False,
) -> RuleRun:
    """Compute the quarter's flags into `work_flags` and record the thresholds in force.

    When the published flags of the quarter are exactly what the rules computed from the published
    tables (matchers.rules.scope.decide), only the persons whose inputs changed, and those linked to
    them through households, are recomputed; the other flags are kept; first_seen and review_status
    are recomputed for every flag. Else (or force_full) every rule over the whole quarter.

    One transaction replaces the quarter's rows of work_flags and appends to rule_config_log and
    run_log (step 'flags': mode and its reason, counts, previous quarter, thresholds, and what this
    run computed from for the next refresh); `warehouse.publish_quarter` then makes them public.
    `reviews` is only read.
    """
    config = config or load_config()
    run_id = run_id or uuid.uuid4().hex
    started = dt.datetime.now()
    prev = previous_compared_quarter(con, quarter)
    decision = scope.decide(con, quarter, config.sha256, prev, force_full)
    prev, skipped = compute_flags(con, quarter, config, scoped=decision.scoped, prev=prev)
    if decision.scoped:
        execute_script(con, _MERGE_SQL, rule_parameters(quarter, prev))
    basis = decision.basis or scope.work_basis(con, quarter, config.sha256, prev)
    basis.flags = scope.flags_digest(con, "r_flags")
    counts = dict.fromkeys(RULE_CODES, 0)
    for code, n in con.execute(
        "SELECT rule_code, count(*) FROM r_flags GROUP BY rule_code"
    ).fetchall():
        counts[code] = n
    now = dt.datetime.now()
    log_rows = [
        (quarter, run_id, now, config.source, config.sha256, d, s, v)
        for d, s, v in _config_log_rows(config)
    ]
    details = {
        **decision.details(),
        "counts": counts,
        "previous_quarter": prev,
        "skipped": skipped,
        "config_source": config.source,
        "config_sha256": config.sha256,
        "thresholds": {
            "defaults": config.defaults,
            "districts": {d: config.for_district(d) for d in sorted(config.districts)},
        },
        "scope_basis": basis.to_json(),
        **decision.publish_hint,
    }
    with transaction(con):
        # only the rows that differ (a refresh changes a handful of flags): the same rows as
        # deleting the quarter's and inserting r_flags
        publish_difference(con, "work_flags", "r_flags", ("flag_id",), quarter)
        con.executemany(
            "INSERT INTO rule_config_log "
            "(quarter, run_id, recorded_at, config_source, config_sha256, district, setting, value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            log_rows,
        )
        con.execute(
            "INSERT INTO run_log (quarter, step, run_id, started_at, finished_at, details) "
            "VALUES (?, 'flags', ?, ?, ?, ?)",
            [quarter, run_id, started, now, json.dumps(details, ensure_ascii=False)],
        )
    # new: first seen this quarter; carried: seen in an earlier quarter; resolved: flagged in the
    # previous published quarter and gone now (the `resolved_flags` view once published).
    new, carried, resolved = con.execute(
        """
        SELECT
            (SELECT count(*) FROM r_flags WHERE first_seen = $quarter),
            (SELECT count(*) FROM r_flags WHERE first_seen <> $quarter),
            (SELECT count(*) FROM flags
             WHERE quarter = $prev AND flag_id NOT IN (SELECT flag_id FROM r_flags))
        """,
        {"quarter": quarter, "prev": prev},
    ).fetchone()
    return RuleRun(
        quarter=quarter,
        run_id=run_id,
        previous_quarter=prev,
        counts=counts,
        new=new,
        carried=carried,
        resolved=resolved,
        skipped=skipped,
        config_source=config.source,
        warnings=config.warnings,
        mode=decision.mode,
        mode_reason=decision.reason,
        scope=decision.details(),
    )


def preview_markdown(con: duckdb.DuckDBPyConnection, quarter: str, limit: int = 10) -> str:
    """A short markdown table of the quarter's work_flags. Reasons carry masked IDs only."""
    rows = con.execute(
        """
        SELECT rule_code, flag_id, coalesce(district, ''), first_seen, review_status, reason
        FROM work_flags WHERE quarter = ?
        ORDER BY rule_code, district, flag_id
        LIMIT ?
        """,
        [quarter, limit],
    ).fetchall()
    lines = ["| 规则 | flag_id | 区 | 首次发现 | 核查状态 | 事由 |", "|---|---|---|---|---|---|"]
    for row in rows:
        cells = [str(c).replace("|", "/") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)



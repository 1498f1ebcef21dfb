"""Which persons' flags a refresh must recompute, and whether the published flags can be built on.

A flag's inputs are its person's rows and the rows of the households that person belongs to and of
those households' members (the roll rows, and students through a guardian: work_household_members),
recursively; R04 also reads the previous quarter's disability rows; first_seen and review_status are recomputed
for every flag of the quarter anyway. So the flags of a person can only change when something in
the connected component of the person–household graph holding that person changed.

`decide` compares the work tables with the published ones (per-source digests first, then row by
row only within the sources that differ; persons; household membership), takes the components
(old and new membership edges) holding the persons touched, and writes them to the temp table
`r_scope`. The rules then run over those persons' rows only (`00_context.sql` filters r_rec and
the guardian rows of r_student_households on r_scope when $scoped) and the published flags of everyone else are kept.

That is sound only when the published flags are exactly what the rules computed from the published
tables: each flags run records what it computed from (`Basis`: digests of its input tables and its
result, the rule config and SQL, the previous quarter's data), and the scoped path is taken only
when the published tables still have those digests. Otherwise the full computation, with the reason
in Chinese (as `matchers.resolution.incremental.decide`).

Pure library: no Dagster.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from matchers import warehouse

MODE_FULL = warehouse.FLAGS_FULL
MODE_SCOPED = warehouse.FLAGS_SCOPED
RUN_LOG_STEP = "flags"
SCOPE_TABLE = "r_scope"
# Above this share of the quarter's persons the full computation is as cheap and simpler.
MAX_SCOPED_SHARE = 0.5
# The components are grown one household hop at a time; a chain longer than this is not a refresh.
MAX_HOPS = 64

_SQL_DIR = Path(__file__).parent / "sql"
_HOUSEHOLD_SOURCES = ("assistance", "poverty")
_SOURCE_KEY = ("source", "source_file", "source_row")
# flags' own columns (first_seen and review_status are recomputed for every flag in every run)
_FLAG_COLUMNS = ("quarter", "flag_id", "rule_code", "person_id", "household_key", "district", "reason", "evidence")


def rules_sha256() -> str:
    """One hash of every rule SQL file (name and text), so an edited rule forces a full run."""
    h = hashlib.sha256()
    for path in sorted(_SQL_DIR.glob("*.sql")):
        h.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


row_hash = warehouse.row_hash
table_digest = warehouse.table_digest
source_digests = warehouse.source_digests


def _digest(n: int, s: int | None) -> str:
    return f"{n}:{s or 0}"


def previous_digest(con: duckdb.DuckDBPyConnection, prev_quarter: str | None) -> str:
    """Digest of what R04 reads of the previous quarter: its published disability grades, else its
    staged ones (matched to persons by ID)."""
    if prev_quarter is None:
        return ""
    parts = []
    for table, cols in (("source_records", "person_id, grade"), ("stg_records", "id_norm, grade")):
        n, s = con.execute(
            f"SELECT count(*), sum(hash({cols})::HUGEINT) FROM {table} "
            "WHERE quarter = ? AND source = 'disability' AND grade IS NOT NULL",
            [prev_quarter],
        ).fetchall()[0]
        parts.append(_digest(n, s))
    published = bool(con.execute("SELECT 1 FROM source_records WHERE quarter = ? LIMIT 1", [prev_quarter]).fetchall())
    return f"{prev_quarter}|{parts[0]}|{parts[1]}|{int(published)}"


@dataclass
class Basis:
    """What a flags run computed from and what it produced (run_log details 'scope_basis')."""

    config_sha256: str
    rules_sha256: str
    previous_quarter: str | None
    previous_digest: str
    sources: dict[str, str]
    members: str
    persons: str
    flags: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def work_basis(con: duckdb.DuckDBPyConnection, quarter: str, config_sha256: str, prev: str | None,
               sources: dict[str, str] | None = None) -> Basis:
    """The basis of a run over the work tables as they are now (flags digest filled in later)."""
    return Basis(
        config_sha256=config_sha256,
        rules_sha256=rules_sha256(),
        previous_quarter=prev,
        previous_digest=previous_digest(con, prev),
        sources=sources if sources is not None else source_digests(con, "work_source_records", quarter),
        members=table_digest(con, "work_household_members", quarter),
        persons=table_digest(con, "work_persons"),
    )


def flags_digest(con: duckdb.DuckDBPyConnection, table: str, quarter: str | None = None) -> str:
    return table_digest(con, table, quarter, _FLAG_COLUMNS)


@dataclass
class Decision:
    scoped: bool
    reason: str
    basis: Basis | None = None  # the work side's, when computed here
    persons: int = 0  # persons in scope
    persons_total: int = 0
    touched: int = 0  # persons whose own inputs changed
    changed_sources: list[str] = field(default_factory=list)
    changed_rows: int = 0
    # for publish_quarter (warehouse._partial_sources): the sources whose rows differ, with the
    # narrow digests of both tables they were found on
    publish_hint: dict = field(default_factory=dict)

    @property
    def mode(self) -> str:
        return MODE_SCOPED if self.scoped else MODE_FULL

    def details(self) -> dict:
        return {
            "mode": self.mode,
            "reason": self.reason,
            "persons_in_scope": self.persons,
            "persons_total": self.persons_total,
            "persons_touched": self.touched,
            "changed_sources": self.changed_sources,
            "changed_rows": self.changed_rows,
        }


def _recorded_basis(con: duckdb.DuckDBPyConnection, quarter: str) -> dict | None:
    d = warehouse.latest_run_details(con, quarter, RUN_LOG_STEP)
    return d.get("scope_basis") if d else None


def create_empty_scope(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {SCOPE_TABLE} (person_id VARCHAR)")


def decide(con: duckdb.DuckDBPyConnection, quarter: str, config_sha256: str, prev: str | None,
           force_full: bool = False) -> Decision:
    """Scoped or full, with the reason in Chinese. When scoped, `r_scope` holds the persons whose
    flags are to be recomputed; always, `r_scope` exists (empty for a full run)."""
    create_empty_scope(con)
    if force_full:
        return Decision(False, "按运行配置要求全量比对")
    if not con.execute("SELECT 1 FROM flags WHERE quarter = ? LIMIT 1", [quarter]).fetchall():
        return Decision(False, f"{quarter} 尚未发布过疑点,全量比对")
    before = _recorded_basis(con, quarter)
    if not before:
        return Decision(False, f"找不到 {quarter} 已发布疑点对应的比对记录(由旧版程序发布),全量比对")
    if before.get("config_sha256") != config_sha256:
        return Decision(False, "规则阈值配置自上次比对以来已修改,全量比对")
    if before.get("rules_sha256") != rules_sha256():
        return Decision(False, "规则程序(SQL)自上次比对以来已修改,全量比对")
    if before.get("previous_quarter") != prev:
        return Decision(False, f"上一季度由 {before.get('previous_quarter') or '无'} 变为 {prev or '无'},全量比对")
    if before.get("previous_digest") != previous_digest(con, prev):
        return Decision(False, f"上一季度({prev})的残疾人数据自上次比对以来有变化(R04 依赖),全量比对")
    if flags_digest(con, "flags", quarter) != before.get("flags"):
        return Decision(False, f"{quarter} 已发布的疑点不是上次比对的结果(上次比对后未发布,或发布后被改动),全量比对")
    if table_digest(con, "persons") != before.get("persons"):
        return Decision(False, "人员主索引自上次比对以来被改动(例如其他季度发布过),全量比对")
    if table_digest(con, "household_members", quarter) != before.get("members"):
        return Decision(False, f"{quarter} 已发布的家庭成员不是上次比对所依据的,全量比对")
    pub = source_digests(con, "source_records", quarter)
    if pub != before.get("sources"):
        return Decision(False, f"{quarter} 已发布的记录不是上次比对所依据的,全量比对")
    # After an incremental resolution the sources it did not re-resolve hold copies of the published
    # rows (its record says which it re-resolved; publish_quarter relies on the same record): only
    # the re-resolved sources' work rows need hashing.
    resolved = warehouse._recorded_sources(con, quarter, warehouse.RESOLUTION_STEP)
    if resolved is None:
        work = source_digests(con, "work_source_records", quarter)
    else:
        work = {s: d for s, d in pub.items() if s not in resolved}
        work.update(source_digests(con, "work_source_records", quarter, sources=resolved))
    basis = work_basis(con, quarter, config_sha256, prev, sources=work)
    changed = sorted(s for s in set(work) | set(pub) if work.get(s) != pub.get(s))
    hint = {
        "publish_sources": changed,
        "published_digest": warehouse.quarter_digest(con, "source_records", quarter),
        "result_digest": warehouse.quarter_digest(con, "work_source_records", quarter),
    }
    if any(d.endswith(":no-person") for d in work.values()):
        return Decision(False, "本季度有记录未关联到人员,全量比对", basis, publish_hint=hint)
    n_changed = _mark_touched(con, quarter, changed, basis.members != before.get("members"),
                              basis.persons != before.get("persons"))
    touched = con.execute("SELECT count(*) FROM r_touched").fetchall()[0][0]
    hops = _grow_scope(con, quarter)
    persons = con.execute(f"SELECT count(*) FROM {SCOPE_TABLE}").fetchall()[0][0]
    # the quarter's persons: estimated (cheap), counted exactly when the scope comes near the limit
    total = con.execute(
        "SELECT approx_count_distinct(person_id) FROM work_source_records WHERE quarter = ?", [quarter]
    ).fetchall()[0][0]
    if persons > 0.8 * MAX_SCOPED_SHARE * total:
        total = con.execute(
            "SELECT count(DISTINCT person_id) FROM work_source_records WHERE quarter = ?", [quarter]
        ).fetchall()[0][0]
    decision = Decision(True, "", basis, persons, total, touched, changed, n_changed, hint)
    if hops is None:
        create_empty_scope(con)
        decision.scoped = False
        decision.reason = f"受影响人员经家庭关系连成超过 {MAX_HOPS} 层,全量比对"
        return decision
    if total and persons > MAX_SCOPED_SHARE * total:
        create_empty_scope(con)
        decision.scoped = False
        decision.reason = f"受影响人员 {persons} 人,占本季度 {persons / total:.0%},超过一半,全量比对"
        return decision
    if not touched:
        decision.reason = "记录、人员和家庭成员与已发布结果完全相同,沿用已发布的疑点(仅更新首次发现季度和核查状态)"
    else:
        decision.reason = (
            f"{touched} 人的记录、人员信息或家庭成员有变化({n_changed} 行记录),"
            f"只重新比对他们及其家庭关系所及的 {persons} 人(占本季度 {persons / max(total, 1):.1%}),"
            "其余疑点沿用已发布结果"
        )
    return decision


def _mark_touched(con: duckdb.DuckDBPyConnection, quarter: str, changed_sources: list[str],
                  members_changed: bool, persons_changed: bool) -> int:
    """r_changed_rows: old and new versions of the rows that differ (only within changed sources);
    r_changed_members: membership rows that differ; r_touched: the persons of either, and the
    persons whose index entry differs. Returns the number of source keys that differ."""
    h_work, h_pub = row_hash(con, "work_source_records"), row_hash(con, "source_records")
    row_cols = "source, source_file, source_row, person_id, household_id"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE r_changed_rows AS "
        + warehouse.differing_sql(
            "work_source_records", "source_records", row_cols, row_cols, h_work, h_pub,
            "WHERE quarter = $quarter AND list_contains($sources::VARCHAR[], source)",
        ),
        {"quarter": quarter, "sources": changed_sources},
    )
    if members_changed:
        hm_work, hm_pub = row_hash(con, "work_household_members"), row_hash(con, "household_members")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE r_changed_members AS "
            + warehouse.differing_sql(
                "work_household_members", "household_members", "household_key, person_id", "household_key, person_id",
                hm_work, hm_pub, "WHERE quarter = $quarter",
            ),
            {"quarter": quarter},
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE r_changed_members (household_key VARCHAR, person_id VARCHAR)")
    if persons_changed:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE r_changed_persons AS "
            + warehouse.differing_sql(
                "work_persons", "persons", "person_id", "person_id",
                row_hash(con, "work_persons"), row_hash(con, "persons"),
            )
        )
    else:
        con.execute("CREATE OR REPLACE TEMP TABLE r_changed_persons (person_id VARCHAR)")
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE r_touched AS
        SELECT DISTINCT person_id FROM (
            SELECT person_id FROM r_changed_rows
            UNION ALL SELECT person_id FROM r_changed_members
            UNION ALL SELECT person_id FROM r_changed_persons
        ) WHERE person_id IS NOT NULL
        """
    )
    return con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT source, source_file, source_row FROM r_changed_rows)"
    ).fetchall()[0][0]


def _grow_scope(con: duckdb.DuckDBPyConnection, quarter: str) -> int | None:
    """r_scope := the persons of the components (person–household graph, old and new edges) that
    hold a touched person. Returns the number of hops, None when the chain is too long."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE r_edges AS
        SELECT person_id, household_key FROM (  -- repeated edges are harmless: the frontier is distinct
            SELECT person_id, source || ':' || household_id AS household_key
            FROM work_source_records
            WHERE quarter = $quarter AND list_contains($household_sources::VARCHAR[], source) AND household_id IS NOT NULL
            UNION ALL
            SELECT person_id, household_key FROM work_household_members WHERE quarter = $quarter
            UNION ALL  -- the old versions' edges (the unchanged rows' are the same in both tables)
            SELECT person_id, source || ':' || household_id FROM r_changed_rows
            WHERE list_contains($household_sources::VARCHAR[], source) AND household_id IS NOT NULL
            UNION ALL
            SELECT person_id, household_key FROM r_changed_members
        )
        WHERE person_id IS NOT NULL
        """,
        {"quarter": quarter, "household_sources": list(_HOUSEHOLD_SOURCES)},
    )
    con.execute(f"INSERT INTO {SCOPE_TABLE} SELECT person_id FROM r_touched")
    con.execute("CREATE OR REPLACE TEMP TABLE r_frontier AS SELECT person_id FROM r_touched")
    for hop in range(MAX_HOPS + 1):
        (added,) = con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE r_frontier AS
            SELECT DISTINCT e2.person_id
            FROM r_edges e1
            JOIN r_edges e2 USING (household_key)
            WHERE e1.person_id IN (SELECT person_id FROM r_frontier)
              AND e2.person_id NOT IN (SELECT person_id FROM {SCOPE_TABLE})
            """
        ).fetchall()[0]
        if not added:
            return hop
        con.execute(f"INSERT INTO {SCOPE_TABLE} SELECT person_id FROM r_frontier")
    return None

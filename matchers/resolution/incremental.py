"""Incremental person resolution for a refresh: only the rows that changed.

A quarter already published by a run, refreshed because some department's file changed. A staged
row is unchanged when the published row with the same key (quarter, source, source_file,
source_row) has the same staged columns (a hash per key, compared only within the sources whose
per-source digest differs, so unchanged sources cost one digest each). Unchanged rows keep the
person_id, match_method, match_probability and match_explanation they were published with. Changed
rows (new keys, or a key whose content differs: an insert mid-file shifts every later row's
source_row, and those rows count as changed) are resolved with the same model, thresholds,
blocking and comparisons as the full run; removed rows (published keys no longer staged) leave:

- a valid ID goes to that ID's person (the person_id it had, else the keyed hash: the full run's
  rule), without pairing;
- a row without a valid ID is linked against the part of the quarter it can be blocked with: the
  profiles sharing a blocking key with it (found by a cheap filter on plain columns, then the exact
  keys of spec.BLOCKING_RULES, over the published rows that stay and the persons of the index), with
  every row of those nodes (their profiles and settlements), the households, students, guardians
  and earlier households their context names, and the persons all of these belong to. A kept row
  with a valid ID sits on its ID's node; one without has a node of its own, tied to its published
  person. The prior counts the full run's nodes and the name term frequencies are the full run's
  (share of all nodes of the quarter carrying the name), both from narrow queries, so a changed
  row's scores are the full run's.

Differences from a full run, by design (bench/refresh_agreement.py counts them):
- an unchanged row keeps its published resolution: where a full run would now link an unchanged
  row without a valid ID elsewhere because of a changed row (a changed row now carries the valid
  ID it resembles, or a new row of a similar person makes it ambiguous), the refresh leaves it
  with its published person (100,000 households, 1 % of housing rows changed: 1 row of 700,511;
  one row changed: 0), and its match_probability is the published one even where a full run's would
  move slightly (the prior follows the index's size);
- a refresh never merges two existing persons (a changed row joins at most one of them, its
  strongest link; merging is the full run's job);
- ties between equal link weights are broken by node numbers, which are numbered over the part
  of the quarter the refresh reads, not over the whole quarter; and a block's size cap
  (spec.MAX_BLOCK_PAIRS) counts the changed rows as its unresolved side, not every row without a
  valid ID (a block a full run skips as oversized may be paired).

Writing: work_source_records holds the whole quarter afterwards (only the changed and removed keys
are replaced when it holds the published rows, else the stale sources are copied from
source_records first); work_persons is recomputed only for the touched persons (a changed row's
person now, or a changed or removed row's person before); work_household_members is rebuilt from
the whole quarter, except when no changed or removed row is one of its inputs (a roll's or a
student's row, or a guardian's ID whose persons change): then it is the published one.

`resolve_with_refresh` decides (`decide`) and runs either the full `resolve_quarter` or the
incremental one, then records the run in `run_log` (step 'resolution') with what it relied on
(the sha256 of the model in force, kept with the quarter in match_models; the fallback file's hash;
person-id key fingerprint, matching settings, the resolution code's hash, a digest of the result),
so the next refresh can tell whether the published result is one it can build on, and scores with
the model that result was resolved with (a full run estimates a model on the quarter; the refresh
never does: its few changed rows are scored as the published base's full run scored them); `publish_sources` names the sources with changed or removed rows (publish compares
rows only within those sources) and `rows_resolved` the changed rows. Pure library: no Dagster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from matchers import warehouse
from matchers.contract import SOURCE_LABELS
from matchers.extract_reader import file_sha256
from matchers.resolution import blocking, cluster, households, model_store, person_ids, spec, sql_text
from matchers.resolution.model import Model
from matchers.resolution.resolve import (
    _choose_person_ids,
    _compared_batches,
    _empty_levels,
    best_links,
    _link_edges,
    node_kinds,
    resolve_quarter,
    stage_row_methods,
    work_counts,
)

MODE_FULL = warehouse.RESOLUTION_FULL
MODE_INCREMENTAL = warehouse.RESOLUTION_INCREMENTAL
RUN_LOG_STEP = warehouse.RESOLUTION_STEP  # "resolution"

# Above this share of the quarter's rows in changed sources, a full run is no slower and is the
# reference result: resolve from scratch.
MAX_CHANGED_SHARE = 0.5

_RESOLUTION_COLUMNS = warehouse.RESOLUTION_COLUMNS


@dataclass
class Decision:
    mode: str
    reason: str
    changed: list[str] = field(default_factory=list)
    rows_changed: int = 0
    rows_total: int = 0
    published_digest: str = ""  # result_digest of the published rows the decision looked at
    # source_digests(source_records, with_resolution=True) as the decision saw them
    published_sources: dict = field(default_factory=dict)
    rows_removed: int = 0  # published rows no longer staged
    model: Model | None = None  # the model the published base was resolved with (incremental only)

    @property
    def incremental(self) -> bool:
        return self.mode == MODE_INCREMENTAL


# ---- what a result relies on ---------------------------------------------------------------------
def _code_sha256() -> str:
    """One hash of the resolution package's code (its SQL, scoring, clustering, person ids, the
    household members): a refresh builds on published rows, persons and household members only
    while they come from this very code."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def basis(model_path: str | os.PathLike, key: bytes) -> dict:
    """What a resolution's person_ids depend on besides the rows and the model in force (never the
    key itself; the model's sha256 is added once the run has chosen it)."""
    return {
        "fallback_model_sha256": file_sha256(Path(model_path)),
        "key_fingerprint": hashlib.blake2b(key, digest_size=8, person=b"pid-key-fp").hexdigest(),
        "spec_sha256": file_sha256(Path(spec.__file__)),
        "code_sha256": _code_sha256(),
        "thresholds": {
            "auto_link": spec.AUTO_LINK_PROBABILITY,
            "review": spec.REVIEW_PROBABILITY,
            "max_block_pairs": spec.MAX_BLOCK_PAIRS,
        },
    }


def result_digest(con: duckdb.DuckDBPyConnection, table: str, quarter: str) -> str:
    """Order-free digest of who each row of the quarter was resolved to."""
    return warehouse.quarter_digest(con, table, quarter)


def _row_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [c for c in warehouse.table_columns(con, "stg_records")]


source_digests = warehouse.staged_source_digests


def _published_digests(
    con: duckdb.DuckDBPyConnection, quarter: str
) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
    """source_digests of source_records without and with the resolution columns, in one scan."""
    staged = ", ".join(f'"{c}"' for c in _row_columns(con))
    resolved = ", ".join(f'"{c}"' for c in _RESOLUTION_COLUMNS)
    plain, full = {}, {}
    for s, n, d, dr in con.execute(
        f"SELECT source, count(*), sum(hash({staged})::HUGEINT), sum(hash({staged}, {resolved})::HUGEINT) "
        "FROM source_records WHERE quarter = ? GROUP BY source",
        [quarter],
    ).fetchall():
        plain[s], full[s] = (int(n), str(d)), (int(n), str(dr))
    return plain, full


def _recorded_basis(con: duckdb.DuckDBPyConnection, quarter: str, digest: str) -> dict | None:
    """The newest resolution record of the quarter whose result is the published one."""
    for (details,) in con.execute(
        "SELECT details FROM run_log WHERE quarter = ? AND step = ? ORDER BY finished_at DESC",
        [quarter, RUN_LOG_STEP],
    ).fetchall():
        d = json.loads(details) if isinstance(details, str) else details
        if d.get("result_digest") == digest:
            return d
    return None


def _labels(sources: list[str]) -> str:
    return "、".join(f"{SOURCE_LABELS.get(s, s)}({s})" for s in sources) or "无"


def row_changes(con: duckdb.DuckDBPyConnection, quarter: str, sources: list[str]) -> tuple[int, int]:
    """The rows that changed, within `sources` (those whose per-source digest differs; the other
    sources' rows are all unchanged and cost nothing here). Temp tables (source, source_file,
    source_row): res_changed_keys, the staged rows with no identical published row of the same key
    (new or changed: to resolve); res_removed_keys, the published keys no longer staged;
    res_dropped_keys, both (the published rows that do not stay). Returns (changed, removed)."""
    cols = ", ".join(f'"{c}"' for c in _row_columns(con))
    p = {"quarter": quarter, "sources": list(sources)}
    for name, table in (("res_stg_hash", "stg_records"), ("res_pub_hash", "source_records")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT source, source_file, source_row, hash({cols}) AS h "
            f"FROM {table} WHERE quarter = $quarter AND list_contains($sources::VARCHAR[], source)",
            p,
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE res_changed_keys AS SELECT source, source_file, source_row "
        "FROM res_stg_hash ANTI JOIN res_pub_hash USING (source, source_file, source_row, h)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE res_removed_keys AS SELECT source, source_file, source_row "
        "FROM res_pub_hash ANTI JOIN res_stg_hash USING (source, source_file, source_row)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE res_dropped_keys AS "
        "SELECT * FROM res_changed_keys UNION SELECT * FROM res_removed_keys"
    )
    con.execute("DROP TABLE res_stg_hash")
    con.execute("DROP TABLE res_pub_hash")
    (changed,) = con.execute("SELECT count(*) FROM res_changed_keys").fetchall()[0]
    (removed,) = con.execute("SELECT count(*) FROM res_removed_keys").fetchall()[0]
    return int(changed), int(removed)


def decide(
    con: duckdb.DuckDBPyConnection, quarter: str, now: dict, force_full: bool = False
) -> Decision:
    """Full or incremental, with the reason in Chinese (for the run log and the asset metadata).

    An incremental decision leaves the changed rows' keys in temp tables (row_changes)."""
    if force_full:
        return Decision(MODE_FULL, "按运行配置要求全量匹配")
    published = con.execute("SELECT count(*) FROM source_records WHERE quarter = ?", [quarter]).fetchall()[0][0]
    if not published:
        return Decision(MODE_FULL, f"{quarter} 尚未发布过匹配结果,全量匹配")
    published_digest = result_digest(con, "source_records", quarter)
    before = _recorded_basis(con, quarter, published_digest)
    if before is None:
        return Decision(
            MODE_FULL,
            f"找不到 {quarter} 已发布结果对应的匹配记录(由旧版程序发布,或上次匹配后未发布),全量匹配",
        )
    base_model = model_store.load(con, quarter, before.get("model_sha256"))
    if base_model is None:
        return Decision(MODE_FULL, f"仓库中找不到 {quarter} 已发布结果所用的人员匹配模型,全量匹配(重新估计模型)")
    if before.get("key_fingerprint") != now["key_fingerprint"]:
        return Decision(MODE_FULL, "人员编号密钥自上次发布以来已更换,全量匹配")
    if before.get("spec_sha256") != now["spec_sha256"] or before.get("thresholds") != now["thresholds"]:
        return Decision(MODE_FULL, "人员匹配设定(比较项、阈值、分块规则)自上次发布以来已修改,全量匹配")
    if before.get("code_sha256") != now["code_sha256"]:
        return Decision(MODE_FULL, "人员匹配程序自上次发布以来已更新(已发布结果由其他版本算出),全量匹配")
    staged = source_digests(con, "stg_records", quarter)
    pub, pub_resolved = _published_digests(con, quarter)
    changed = sorted(s for s in set(staged) | set(pub) if staged.get(s) != pub.get(s))
    rows_total = sum(n for n, _ in staged.values())
    rows_changed, rows_removed = row_changes(con, quarter, changed)
    # sources whose digest differs but whose rows are all the same (cannot happen but by a hash
    # collision): nothing to publish for them
    if changed:
        with_rows = {
            s for (s,) in con.execute("SELECT DISTINCT source FROM res_dropped_keys").fetchall()
        }
        changed = [s for s in changed if s in with_rows]
    moved = rows_changed + rows_removed
    if rows_total and moved > MAX_CHANGED_SHARE * rows_total:
        return Decision(
            MODE_FULL,
            f"有变化的部门({_labels(changed)})共 {rows_changed} 行新增或修改、{rows_removed} 行删除,"
            f"占本季度 {moved / rows_total:.0%},超过一半,全量匹配",
            changed, rows_changed, rows_total, rows_removed=rows_removed,
        )
    missing = con.execute(
        """
        SELECT count(DISTINCT s.person_id)
        FROM (SELECT * FROM source_records
              WHERE quarter = ? AND person_id NOT IN (SELECT person_id FROM persons)) s
        ANTI JOIN res_dropped_keys USING (source, source_file, source_row)
        """,
        [quarter],
    ).fetchall()[0][0]
    if missing:
        return Decision(
            MODE_FULL,
            f"人员主索引缺少本季度已发布结果中的 {missing} 人(其他季度的运行改动了主索引),全量匹配",
            changed, rows_changed, rows_total, rows_removed=rows_removed,
        )
    if not changed:
        reason = "各部门记录与已发布结果完全相同,沿用已发布的匹配结果,无需重新匹配"
    else:
        detail = f"({rows_changed} 行新增或修改、{rows_removed} 行删除)" if rows_removed else ""
        reason = (
            f"仅 {_labels(changed)} 有 {moved} 行变化{detail}:只重新匹配这 {rows_changed} 行"
            f"(占本季度 {rows_changed / max(rows_total, 1):.2%}),其余 {rows_total - rows_changed} 行沿用已发布的人员编号"
        )
    return Decision(
        MODE_INCREMENTAL, reason, changed, rows_changed, rows_total, published_digest, pub_resolved,
        rows_removed=rows_removed, model=base_model,
    )


# ---- the incremental run's SQL (mirrors sql_text over the part of the quarter a change can reach) --
# A row's blocking columns (spec.BlockingRule.sql reads these), as sql_text.PROFILES derives them.
_ROW_KEY_COLUMNS = f"""
    {sql_text.row_id17()} AS id17,
    {sql_text.row_id_prefix()} AS id_prefix,
    name_key, name_pinyin, surname_pinyin,
    {sql_text.row_birth()} AS birth,
    district"""
_ANCHOR_KEY_COLUMNS = """
    substr(id_number, 1, 17) AS id17, NULL::VARCHAR AS id_prefix, name_key, name_pinyin, surname_pinyin,
    birth_date AS birth, district"""

ROWS = """
CREATE OR REPLACE TEMP TABLE res_rows AS
SELECT row_number() OVER (ORDER BY source, source_file, source_row) - 1 AS rid, *
FROM (SELECT * FROM stg_records WHERE quarter = $quarter)
SEMI JOIN res_changed_keys USING (source, source_file, source_row)
"""


def _rules_match() -> str:
    """A WHERE condition: the row's key under some blocking rule is one of the changed rows' keys
    under that rule (res_inc_keys)."""
    return "\n   OR ".join(
        f"({rule.sql}) IN (SELECT key FROM res_inc_keys WHERE rule = {i})"
        for i, rule in enumerate(spec.BLOCKING_RULES)
    )


def _inc_keys_sql() -> str:
    """The blocking keys of the changed rows without a valid ID (the unresolved side of a block)."""
    parts = "\n    UNION ALL\n".join(
        f"    SELECT {i} AS rule, ({rule.sql}) AS key FROM k" for i, rule in enumerate(spec.BLOCKING_RULES)
    )
    return (
        "CREATE OR REPLACE TEMP TABLE res_inc_keys AS\n"
        f"WITH k AS (SELECT {_ROW_KEY_COLUMNS} FROM res_rows WHERE id_norm IS NULL)\n"
        f"SELECT DISTINCT rule, key FROM (\n{parts}\n) WHERE key IS NOT NULL"
    )


# Every node a changed row without a valid ID can be blocked with: the published rows that stay
# (valid ID → its ID's node; without → a node of its own) and the persons of the index whose
# blocking keys meet the changed rows' keys. Blocking pairs profiles on equal keys, so these are
# all the profiles sharing a block with a changed row (and the blocks' sizes are the full run's).
# First a cheap filter on plain columns that every blocking key implies (a key holds the name, the
# name's pinyin, the birth date, or digits 8-13 or 15-17 of the ID: spec.BLOCKING_RULES), then the
# exact keys on the few rows left.
PREFILTER = """
CREATE OR REPLACE TEMP TABLE res_inc_pre AS
WITH k AS (SELECT {row_cols} FROM res_rows WHERE id_norm IS NULL)
SELECT 'name_key' AS col, name_key AS v FROM k WHERE name_key IS NOT NULL
UNION SELECT 'name_pinyin', name_pinyin FROM k WHERE name_pinyin IS NOT NULL
UNION SELECT 'birth', CAST(birth AS VARCHAR) FROM k WHERE birth IS NOT NULL
UNION SELECT 'id8', substr(id17, 8, 6) FROM k WHERE id17 IS NOT NULL
UNION SELECT 'id15', substr(id17, 15, 3) FROM k WHERE id17 IS NOT NULL
"""

CANDIDATES = """
CREATE OR REPLACE TEMP TABLE res_cand_rows AS
SELECT row_key, id_norm FROM (
    SELECT rowid AS row_key, id_norm, {row_cols}
    FROM source_records
    WHERE quarter = $quarter AND (
        name_key IN (SELECT v FROM res_inc_pre WHERE col = 'name_key')
        OR name_pinyin IN (SELECT v FROM res_inc_pre WHERE col = 'name_pinyin')
        OR CAST(id_birth_date AS VARCHAR) IN (SELECT v FROM res_inc_pre WHERE col = 'birth')
        OR id_kind = 'bad_check'
        OR substr(coalesce(id_norm, id_evidence), 8, 6) IN (SELECT v FROM res_inc_pre WHERE col = 'id8')
        OR substr(coalesce(id_norm, id_evidence), 15, 3) IN (SELECT v FROM res_inc_pre WHERE col = 'id15')
    )
)
WHERE ({match}) AND row_key NOT IN (SELECT row_key FROM res_dropped_rows);

CREATE OR REPLACE TEMP TABLE res_cand_anchors AS
SELECT person_id, id_number FROM (
    SELECT person_id, id_number, {anchor_cols}
    FROM persons
    WHERE name_key IN (SELECT v FROM res_inc_pre WHERE col = 'name_key')
       OR name_pinyin IN (SELECT v FROM res_inc_pre WHERE col = 'name_pinyin')
       OR CAST(birth_date AS VARCHAR) IN (SELECT v FROM res_inc_pre WHERE col = 'birth')
       OR substr(id_number, 8, 6) IN (SELECT v FROM res_inc_pre WHERE col = 'id8')
       OR substr(id_number, 15, 3) IN (SELECT v FROM res_inc_pre WHERE col = 'id15')
)
WHERE {match};
"""

# The published rows that do not stay (changed or removed), by rowid in source_records.
DROPPED_ROWS = """
CREATE OR REPLACE TEMP TABLE res_dropped_rows AS
SELECT row_key, person_id, source, id_norm FROM (
    SELECT rowid AS row_key, person_id, source, source_file, source_row, id_norm
    FROM source_records WHERE quarter = $quarter
) SEMI JOIN res_dropped_keys USING (source, source_file, source_row)
"""

# The valid IDs whose nodes take part: the changed rows' and the candidates'. Every published row
# that stays of such an ID is kept in the run (the node's profiles, settlements and households are
# the full run's), and so is every candidate row without a valid ID. Rows are found on narrow
# columns (rowid of source_records) and fetched once, in KEPT.
LEVEL1 = """
CREATE OR REPLACE TEMP TABLE res_inc_ids AS
SELECT id_norm AS id FROM res_rows WHERE id_norm IS NOT NULL
UNION SELECT id_norm FROM res_cand_rows WHERE id_norm IS NOT NULL
UNION SELECT id_number FROM res_cand_anchors WHERE id_number IS NOT NULL;

CREATE OR REPLACE TEMP TABLE res_kept_rows AS
SELECT rowid AS row_key, source || '|' || household_id AS hh, guardian_id_norm
FROM source_records
WHERE quarter = $quarter AND id_norm IN (SELECT id FROM res_inc_ids)
  AND rowid NOT IN (SELECT row_key FROM res_dropped_rows)
UNION
SELECT c.row_key, s.source || '|' || s.household_id, s.guardian_id_norm
FROM res_cand_rows c JOIN source_records s ON s.rowid = c.row_key
WHERE c.id_norm IS NULL;
"""

# The household context of those nodes (sql_text.CONTEXT) reaches further: the members with a valid
# ID of their households this quarter, their students (with a valid ID) and guardians. Those are
# kept too (as nodes the context can name; they are never paired unless they are candidates).
LEVEL2 = """
CREATE OR REPLACE TEMP TABLE res_inc_households AS
SELECT source || '|' || household_id AS hh FROM res_rows WHERE household_id IS NOT NULL
UNION SELECT hh FROM res_kept_rows WHERE hh IS NOT NULL;

CREATE OR REPLACE TEMP TABLE res_inc_guardians AS
SELECT guardian_id_norm AS id FROM res_rows WHERE guardian_id_norm IS NOT NULL
UNION SELECT guardian_id_norm FROM res_kept_rows WHERE guardian_id_norm IS NOT NULL;

INSERT INTO res_kept_rows
SELECT rowid, NULL, NULL
FROM source_records
WHERE quarter = $quarter AND id_norm IS NOT NULL AND (
        (household_id IS NOT NULL AND source || '|' || household_id IN (SELECT hh FROM res_inc_households))
        OR id_norm IN (SELECT id FROM res_inc_guardians)
        OR guardian_id_norm IN (SELECT id FROM res_inc_ids)
    )
  AND rowid NOT IN (SELECT row_key FROM res_kept_rows)
  AND rowid NOT IN (SELECT row_key FROM res_dropped_rows);
"""

KEPT = """
CREATE OR REPLACE TEMP TABLE res_kept AS
SELECT s.quarter, s.source, s.source_file, s.source_row, s.person_id,
       s.id_norm, s.id_kind, s.id_evidence, s.name_norm, s.name_key, s.name_pinyin, s.surname_pinyin,
       s.name_wildcard, s.id_birth_date, s.sex, s.id_sex, s.district, s.street, s.community, s.diagnosis,
       s.household_id, s.relation, s.guardian_id_norm,
       CASE WHEN s.id_norm IS NOT NULL THEN 'I:' || s.id_norm
            ELSE 'K:' || s.source || '|' || s.source_file || '|' || s.source_row END AS node_key,
       CASE WHEN p.id_number IS NOT NULL THEN 'I:' || p.id_number ELSE 'P:' || p.person_id END AS person_node_key
FROM (SELECT DISTINCT row_key FROM res_kept_rows) k
JOIN source_records s ON s.rowid = k.row_key
JOIN persons p USING (person_id);
"""

# The persons of the index that take part: those of the nodes above (by valid ID or as candidates),
# the persons the kept rows belong to (an ID-less kept row is tied to its person), the persons the
# changed and removed rows had, any person whose id the changed rows could be given
# (res_inc_new_pids: the keyed hashes of their IDs and records, so that the choice of ids stays
# unique), and the persons with a valid ID who shared a household of an earlier quarter with them
# (the context of sql_text.CONTEXT's `earlier`).
ANCHORS = """
CREATE OR REPLACE TEMP TABLE res_inc_pids AS
SELECT person_id FROM res_cand_anchors
UNION SELECT person_id FROM res_kept
UNION SELECT person_id FROM persons WHERE id_number IN (
    SELECT id FROM res_inc_ids UNION SELECT id FROM res_inc_guardians UNION SELECT id_norm FROM res_kept)
UNION SELECT person_id FROM res_dropped_rows
UNION SELECT person_id FROM res_inc_new_pids;

CREATE OR REPLACE TEMP TABLE res_anchors AS
WITH earlier AS (
    SELECT DISTINCT quarter, household_key FROM household_members
    WHERE quarter <> $quarter AND person_id IN (SELECT person_id FROM res_inc_pids)
),
housemates AS (
    SELECT h.person_id FROM household_members h
    SEMI JOIN earlier e USING (quarter, household_key)
)
SELECT person_id, id_number, name, name_key, name_pinyin, surname_pinyin, sex, birth_date, district,
       first_quarter, last_quarter,
       CASE WHEN id_number IS NOT NULL THEN 'I:' || id_number ELSE 'P:' || person_id END AS node_key
FROM persons
WHERE person_id IN (SELECT person_id FROM res_inc_pids)
   OR (id_number IS NOT NULL AND person_id IN (SELECT person_id FROM housemates));
"""

# What the model reads of the whole quarter, computed for the changed rows' names only: the number
# of nodes a full run has (the prior) and the term frequencies of sql_text.PAIR_ATTRIBUTES (the
# share of all nodes carrying the name; a node is a valid ID, an earlier person, or a row without a
# valid ID).
NODE_TOTAL = """
SELECT (SELECT count(*) FROM (
            SELECT id_norm FROM stg_records WHERE quarter = $quarter AND id_norm IS NOT NULL
            UNION SELECT id_number FROM persons WHERE id_number IS NOT NULL))
     + (SELECT count(*) FROM persons WHERE id_number IS NULL)
     + (SELECT count(*) FROM stg_records WHERE quarter = $quarter AND id_norm IS NULL)
"""

TERM_FREQUENCIES = """
CREATE OR REPLACE TEMP TABLE res_tf_{col} AS
WITH names AS (SELECT DISTINCT {col} FROM res_rows WHERE id_norm IS NULL AND {col} IS NOT NULL),
nodes AS (
    SELECT {col}, CASE WHEN id_norm IS NOT NULL THEN 'I:' || id_norm
                       ELSE 'R:' || source || '|' || source_file || '|' || source_row END AS node
    FROM stg_records WHERE quarter = $quarter AND {col} IN (SELECT {col} FROM names)
    UNION
    SELECT {col}, CASE WHEN id_number IS NOT NULL THEN 'I:' || id_number ELSE 'P:' || person_id END
    FROM persons WHERE {col} IN (SELECT {col} FROM names)
)
SELECT {col}, greatest(count(*) - 1, 1) / $total::DOUBLE AS tf FROM nodes GROUP BY {col}
"""

_PAIR_HEAD, _PAIR_TAIL = sql_text.PAIR_ATTRIBUTES.split("\nSELECT p.pid_l, p.pid_r,", 1)
assert "tf_key AS" in _PAIR_HEAD and "tf_pinyin AS" in _PAIR_HEAD, "sql_text.PAIR_ATTRIBUTES changed shape"
PAIR_ATTRIBUTES = (
    "WITH tf_key AS (SELECT name_key, tf FROM res_tf_name_key),\n"
    "tf_pinyin AS (SELECT name_pinyin, tf FROM res_tf_name_pinyin)\nSELECT p.pid_l, p.pid_r," + _PAIR_TAIL
)

# sql_text.NODES plus a node per kept row without a valid ID ('K:'), as the full run has one per
# such row ('R:').
NODES = """
CREATE OR REPLACE TEMP TABLE res_nodes AS
SELECT row_number() OVER (ORDER BY node_key) - 1 AS node, node_key,
       node_key LIKE 'I:%' AS valid
FROM (
    SELECT CASE WHEN id_norm IS NOT NULL THEN 'I:' || id_norm ELSE 'R:' || rid END AS node_key
    FROM res_rows
    UNION
    SELECT node_key FROM res_anchors
    UNION
    SELECT node_key FROM res_kept WHERE node_key LIKE 'K:%'
)
"""

# Each kept row without a valid ID is tied to its published person's node (an edge no weight can
# outbid): a changed row linking to it joins that person, as in the full run.
KEPT_TIES = """
SELECT n.node AS node_l, pn.node AS node_r
FROM res_kept k
JOIN res_nodes n ON n.node_key = k.node_key
JOIN res_nodes pn ON pn.node_key = k.person_node_key
WHERE k.node_key LIKE 'K:%'
"""

# The profiles of the full run (sql_text.PROFILES) plus one per distinct kept row, on its node and
# already resolved (never the unresolved side of a block).
PROFILES = sql_text.profiles_sql(f"""
        UNION ALL
        SELECT n.node, false,
               {sql_text.row_profile("k")}
        FROM res_kept k JOIN res_nodes n USING (node_key)""")

# sql_text.NODE_ROWS over the rows of the run (changed and kept rows on their nodes).
NODE_ROWS = """
CREATE OR REPLACE TEMP VIEW res_node_rows AS
SELECT rn.node, r.source, r.diagnosis FROM res_rows r JOIN res_row_nodes rn USING (rid)
UNION ALL
SELECT n.node, k.source, k.diagnosis FROM res_kept k JOIN res_nodes n USING (node_key)
"""

# sql_text.CONTEXT over the rows of the run (changed and kept rows on their nodes), for the nodes
# of the candidate pairs only.
CONTEXT = sql_text.context_sql(
    more_households="""
    UNION ALL
    SELECT NULL, n.node, k.relation, k.quarter || ':' || k.source || ':' || k.household_id
    FROM res_kept k JOIN res_nodes n USING (node_key)
    WHERE k.household_id IS NOT NULL""",
    more_guardians="""
    UNION ALL
    SELECT NULL, kn.node, n.node, 'G:K' || k.source || '|' || k.source_file || '|' || k.source_row
    FROM res_kept k
    JOIN res_nodes kn USING (node_key)
    JOIN res_nodes n ON n.node_key = 'I:' || k.guardian_id_norm
    WHERE k.guardian_id_norm IS NOT NULL AND n.node <> kn.node""",
    paired_only=True,
)

# The nodes of the candidate pairs: the household comparison (sql_text.PAIR_HOUSEHOLD) reads the
# context of these nodes only, so CONTEXT keeps only their rows (the full run's rows for them).
PAIRED_NODES = """
CREATE OR REPLACE TEMP TABLE res_paired_nodes AS
SELECT node_l AS node FROM res_node_pairs UNION SELECT node_r FROM res_node_pairs
"""

# Published rows of the quarter that stay (every row but the changed and removed ones).
_STAYING = """(SELECT * FROM source_records WHERE quarter = $quarter {extra}
          AND rowid NOT IN (SELECT row_key FROM res_dropped_rows))"""

# The index after the run, as sql_text.PERSONS builds it, recomputed only for the persons the
# change touches (a changed row's person now, or a changed or removed row's person in the published
# result): for every other person the rows are the published ones, so the published index row is
# what a recomputation gives. Attributes from every row of the quarter of that person; an earlier
# person kept while another quarter names them. No existing person is merged, so each anchor is
# its own.
PERSONS = """
WITH touched AS (
    SELECT person_id FROM res_touched
),
all_rows AS (
    SELECT person_id, source, source_file, source_row, id_norm, name_norm, name_key, name_pinyin,
           surname_pinyin, sex, id_sex, id_birth_date, id_kind, id_evidence, district
    FROM res_out
    UNION ALL
    SELECT person_id, source, source_file, source_row, id_norm, name_norm, name_key, name_pinyin,
           surname_pinyin, sex, id_sex, id_birth_date, id_kind, id_evidence, district
    FROM """ + _STAYING.format(extra="AND person_id IN (SELECT person_id FROM res_touched)") + """
),
row_people AS (
    SELECT *, row_number() OVER (ORDER BY source, source_file, source_row) - 1 AS rid,
           """ + sql_text.row_birth() + """ AS birth
    FROM all_rows
),
""" + sql_text.PERSON_FROM_ROWS + """kept_anchors AS (
    SELECT * FROM persons a
    WHERE a.person_id IN (SELECT person_id FROM touched)
      AND (a.person_id IN (SELECT person_id FROM from_rows)
           OR a.person_id IN (SELECT person_id FROM source_records
                              WHERE quarter <> $quarter AND person_id IN (SELECT person_id FROM touched)))
)
""" + sql_text.PERSON_INDEX_ROW

TOUCHED = """
CREATE OR REPLACE TEMP TABLE res_touched AS
SELECT person_id FROM res_out
UNION
SELECT person_id FROM res_dropped_rows
"""

# Rows per person among the published rows that stay, for the persons of the run: a person with
# rows this quarter is a cluster with rows (the precedence of resolve._choose_person_ids).
KEPT_COUNTS = """
CREATE OR REPLACE TEMP TABLE res_kept_counts AS
SELECT person_id, count(*) AS n
FROM """ + _STAYING.format(extra="AND person_id IN (SELECT person_id FROM res_anchors)") + """
GROUP BY person_id
"""

_TEMP_TABLES = (
    "res_kept", "res_rows", "res_anchors", "res_nodes", "res_row_nodes", "res_profiles", "res_pairs",
    "res_ctx", "res_node_pairs", "res_pair_household", "res_node_diag", "res_node_meds", "res_labels",
    "res_cluster_facts", "res_cluster_pid", "res_best", "res_methods", "res_out", "res_paired_nodes",
    "res_inc_keys", "res_inc_pre", "res_cand_rows", "res_cand_anchors", "res_inc_ids", "res_inc_households",
    "res_inc_guardians", "res_inc_pids", "res_inc_new_pids", "res_tf_name_key", "res_tf_name_pinyin",
    "res_kept_counts", "res_touched", "res_kept_rows", "res_dropped_rows",
    "res_changed_keys", "res_removed_keys", "res_dropped_keys",
)


# The rows sql_text.HOUSEHOLD_MEMBERS reads: the rolls' and the students' rows, and the rows whose
# valid ID is a student's guardian's (they name the guardian's person). When no changed or removed
# row is a roll's or a student's, every guardian ID a changed or removed row carries is held by
# the same persons before and after, and no published guardian lacks a valid ID (those are scored
# against every person of the quarter: any row may add a namesake or move the name's frequency),
# the quarter's household members are the published ones.
HOUSEHOLD_INPUTS_CHANGED = """
WITH guardians AS (
    SELECT DISTINCT guardian_id_norm AS id FROM source_records
    WHERE quarter = $quarter AND source = 'education' AND guardian_id_norm IS NOT NULL
),
idless_guardians AS (  -- resolved against every person of the quarter: any changed row may move them
    SELECT 1 FROM source_records
    WHERE quarter = $quarter AND source = 'education' AND guardian_id_norm IS NULL
      AND guardian_name_norm IS NOT NULL
    LIMIT 1
),
moved_ids AS (
    SELECT id_norm AS id FROM res_rows WHERE id_norm IN (SELECT id FROM guardians)
    UNION SELECT id_norm FROM res_dropped_rows WHERE id_norm IN (SELECT id FROM guardians)
),
before AS (
    SELECT DISTINCT id_norm, person_id FROM source_records
    WHERE quarter = $quarter AND id_norm IN (SELECT id FROM moved_ids)
),
after AS (
    SELECT DISTINCT id_norm, person_id FROM source_records
    WHERE quarter = $quarter AND id_norm IN (SELECT id FROM moved_ids)
      AND rowid NOT IN (SELECT row_key FROM res_dropped_rows)
    UNION
    SELECT DISTINCT id_norm, person_id FROM res_out WHERE id_norm IN (SELECT id FROM moved_ids)
)
SELECT (SELECT count(*) FROM res_rows WHERE source IN ('assistance', 'poverty', 'education'))
     + (SELECT count(*) FROM res_rows) * (SELECT count(*) FROM idless_guardians)
     + (SELECT count(*) FROM res_dropped_rows) * (SELECT count(*) FROM idless_guardians)
     + (SELECT count(*) FROM res_dropped_rows WHERE source IN ('assistance', 'poverty', 'education'))
     + (SELECT count(*) FROM (SELECT * FROM before EXCEPT SELECT * FROM after))
     + (SELECT count(*) FROM (SELECT * FROM after EXCEPT SELECT * FROM before))
"""


def _write_household_members(con: duckdb.DuckDBPyConnection, quarter: str, model: Model) -> bool:
    """work_household_members of the quarter, as households.write_household_members builds it from
    work_source_records. When no changed or removed row is an input of it, that is the published
    household_members of the quarter (built from the published rows, which are the work rows
    there): kept when the work table holds it, else copied. True when not rebuilt."""
    (moved,) = con.execute(HOUSEHOLD_INPUTS_CHANGED, {"quarter": quarter}).fetchall()[0]
    if moved:
        households.write_household_members(con, quarter, model)
        return False
    if warehouse.table_digest(con, "work_household_members", quarter) != warehouse.table_digest(con, "household_members", quarter):
        warehouse.replace_rows(con, "work_household_members", {"quarter": quarter}, None)
        con.execute(
            "INSERT INTO work_household_members BY NAME SELECT * FROM household_members WHERE quarter = ?", [quarter]
        )
    return True


def _new_person_ids(con: duckdb.DuckDBPyConnection, key: bytes) -> pl.DataFrame:
    """Every id a changed row's cluster could be given by a keyed hash (of its valid ID, of its
    record): the persons of the index holding one of these take part, so the ids stay unique."""
    ids = [r[0] for r in con.execute("SELECT DISTINCT id_norm FROM res_rows WHERE id_norm IS NOT NULL").fetchall()]
    out = list(person_ids.person_ids_for_ids(key, ids).values()) if ids else []
    out += [
        person_ids.person_id_for_record(key, q, s, f, int(r))
        for q, s, f, r in con.execute("SELECT quarter, source, source_file, source_row FROM res_rows").fetchall()
    ]
    return pl.DataFrame({"person_id": out}, schema={"person_id": pl.String})


def _compared(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The candidate pairs with their levels (resolve._compared_batches with the term frequencies
    of the whole quarter)."""
    chunks = list(_compared_batches(con, PAIR_ATTRIBUTES))
    return pl.concat(chunks).sort("pid_l", "pid_r") if chunks else _empty_levels()


def resolve_incremental(
    con: duckdb.DuckDBPyConnection, quarter: str, changed: list[str], *, model: Model, key: bytes,
    published: dict[str, tuple[int, str]] | None = None, keys_staged: bool = False,
) -> dict:
    """Resolve only the changed rows of the quarter (row_changes over the `changed` sources);
    write work_source_records (the whole quarter: the other rows are the published ones),
    work_persons and work_household_members.

    `published`: source_digests(source_records, with_resolution=True) when the caller has them
    (decide computed them; nothing wrote source_records since). `keys_staged`: decide left the
    changed rows' keys (row_changes) and nothing changed since. `model`: the one the published
    base was resolved with (Decision.model)."""
    t0 = time.perf_counter()
    steps: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(now - since, 2)
        return now

    p = {"quarter": quarter}
    if not keys_staged:
        row_changes(con, quarter, changed)
    con.execute(ROWS, p)
    t = lap("changed_rows", t0)

    # the part of the quarter the changed rows can reach
    con.execute(_inc_keys_sql())
    match = _rules_match()
    con.execute(DROPPED_ROWS, p)
    con.execute(PREFILTER.format(row_cols=_ROW_KEY_COLUMNS))
    warehouse.execute_script(con, CANDIDATES.format(row_cols=_ROW_KEY_COLUMNS, anchor_cols=_ANCHOR_KEY_COLUMNS, match=match), p)
    t = lap("candidates", t)
    warehouse.execute_script(con, LEVEL1, p)
    warehouse.execute_script(con, LEVEL2, p)
    warehouse.execute_script(con, KEPT)
    warehouse.temp_table(con, "res_inc_new_pids", _new_person_ids(con, key))
    warehouse.execute_script(con, ANCHORS, p)
    t = lap("kept_rows_anchors", t)
    (n_total,) = con.execute(NODE_TOTAL, p).fetchall()[0]
    for col in ("name_key", "name_pinyin"):
        con.execute(TERM_FREQUENCIES.format(col=col), {**p, "total": float(max(n_total, 1))})
    t = lap("node_total_term_frequencies", t)

    con.execute(NODES)
    con.execute(sql_text.ROW_NODES)
    con.execute(PROFILES)
    con.execute(NODE_ROWS)
    con.execute(sql_text.NODE_DIAGNOSES)
    t = lap("nodes_profiles", t)
    stats = blocking.build_pairs(con)
    t = lap("blocking", t)
    con.execute(sql_text.NODE_PAIRS)
    con.execute(PAIRED_NODES)
    con.execute(CONTEXT, p)
    con.execute(sql_text.PAIR_HOUSEHOLD)
    t = lap("household_context", t)
    pairs = _compared(con)
    t = lap("comparisons", t)

    n_nodes = con.execute("SELECT count(*) FROM res_nodes").fetchall()[0][0]
    # The guard treats every existing person (and every valid ID) as holding an identity: a changed
    # row joins at most one of them, and two existing persons are never merged by a refresh.
    fixed = con.sql("SELECT valid OR node_key LIKE 'P:%' AS fixed FROM res_nodes ORDER BY node").pl()
    fixed_code = np.where(fixed["fixed"].to_numpy(), 1, -1) if n_nodes else np.zeros(0, dtype=np.int64)
    # the prior counts the full run's nodes (every node of the quarter), not this run's few
    scored = model.score(pairs, int(n_total)) if len(pairs) else pairs.with_columns(
        *[pl.lit(0.0).alias(f"w_{c.key}") for c in spec.COMPARISONS],
        match_weight=pl.lit(0.0), match_probability=pl.lit(0.0),
    )
    edges = _link_edges(scored, node_kinds(con) if n_nodes else np.zeros(0, dtype=np.int64))
    ties = con.sql(KEPT_TIES).pl()
    tie_weight = np.full(len(ties), 1e12)
    labels, kept, cut = cluster.guarded_clusters(
        n_nodes,
        np.concatenate([edges["node_l"].to_numpy(), ties["node_l"].to_numpy()]),
        np.concatenate([edges["node_r"].to_numpy(), ties["node_r"].to_numpy()]),
        np.concatenate([edges["match_weight"].to_numpy(), tie_weight]),
        fixed_code,
    )
    edges = edges.filter(pl.Series(kept[: len(edges)]))
    warehouse.temp_table(con, "res_labels", pl.DataFrame({"node": np.arange(n_nodes), "label": labels}))
    best = best_links(edges)
    con.execute(sql_text.CLUSTER_FACTS)
    con.execute(KEPT_COUNTS, p)
    # A person with rows that stay this quarter is a cluster with rows too: it keeps its person_id
    # against a changed row that had it before (the full run's precedence). (A cluster without a
    # changed row keeps its anchor's person_id (rule 1 or 2): its valid ID need not be hashed again.)
    facts = con.sql(
        """
        SELECT f.* REPLACE (coalesce(f.n_rows, 0) + coalesce(k.n, 0) AS n_rows,
                            CASE WHEN f.n_rows > 0 THEN f.valid_id END AS valid_id)
        FROM res_cluster_facts f
        LEFT JOIN (
            SELECT l.label, sum(c.n) AS n
            FROM res_kept_counts c JOIN res_anchors a USING (person_id)
            JOIN res_nodes n USING (node_key) JOIN res_labels l USING (node)
            GROUP BY l.label
        ) k USING (label)
        """
    ).pl()
    chosen = _choose_person_ids(facts, key)
    warehouse.temp_table(con, "res_cluster_pid", chosen)
    warehouse.temp_table(con, "res_best", best)
    stage_row_methods(con)
    con.execute("CREATE OR REPLACE TEMP TABLE res_out AS " + sql_text.ROW_METHODS)
    con.execute(TOUCHED)
    persons_rel = con.sql(PERSONS, params=p).pl()
    t = lap("scoring_clustering", t)

    # The work table holds the published rows (it does after a publish; not after an unpublished
    # run): then only the changed and removed rows are replaced. A source whose work rows are not
    # the published ones is first copied again from source_records.
    pub = published if published is not None else source_digests(con, "source_records", quarter, with_resolution=True)
    work = source_digests(con, "work_source_records", quarter, with_resolution=True)
    stale = sorted(s for s in set(pub) | set(work) if pub.get(s) != work.get(s))
    t = lap("work_digest", t)
    warehouse.register(con, "res_persons_df", persons_rel)
    try:
        with warehouse.transaction(con):
            if stale:
                con.execute(
                    "DELETE FROM work_source_records WHERE quarter = $quarter "
                    "AND list_contains($stale::VARCHAR[], source)",
                    {**p, "stale": stale},
                )
                con.execute(
                    "INSERT INTO work_source_records BY NAME SELECT * FROM source_records "
                    "WHERE quarter = $quarter AND list_contains($stale::VARCHAR[], source)",
                    {**p, "stale": stale},
                )
            con.execute(
                "DELETE FROM work_source_records w WHERE w.quarter = $quarter AND EXISTS ("
                "SELECT 1 FROM res_dropped_keys d WHERE d.source = w.source "
                "AND d.source_file = w.source_file AND d.source_row = w.source_row)",
                p,
            )
            con.execute("INSERT INTO work_source_records BY NAME SELECT * FROM res_out")
            t = lap("write_rows", t)
            # untouched persons: the published index rows as they are; touched ones recomputed. The
            # work index usually is the published one (after a publish): then only the touched
            # persons' rows are replaced, else the whole index is copied again.
            if warehouse.table_digest(con, "work_persons") == warehouse.table_digest(con, "persons"):
                con.execute("DELETE FROM work_persons WHERE person_id IN (SELECT person_id FROM res_touched)")
            else:
                con.execute("DELETE FROM work_persons")
                con.execute(
                    "INSERT INTO work_persons BY NAME SELECT * FROM persons "
                    "WHERE person_id NOT IN (SELECT person_id FROM res_touched)"
                )
            con.execute("INSERT INTO work_persons BY NAME SELECT * FROM res_persons_df")
            t = lap("write_persons", t)
            households_kept = _write_household_members(con, quarter, model)
            t = lap("write_household_members", t)
    finally:
        warehouse.unregister(con, "res_persons_df")

    rows_resolved = con.execute("SELECT count(*) FROM res_rows").fetchall()[0][0]
    (rows_removed,) = con.execute("SELECT count(*) FROM res_removed_keys").fetchall()[0]
    (rows_run,) = con.execute("SELECT count(*) FROM res_kept").fetchall()[0]
    result = {
        **work_counts(con, quarter),
        "rows_resolved": int(rows_resolved),
        "rows_removed": int(rows_removed),
        "rows_in_run": int(rows_run) + int(rows_resolved),
        "household_members_kept": households_kept,
        "nodes_in_run": int(n_nodes),
        "candidate_pairs": stats["pairs"],
        "links": len(edges),
        "links_cut_by_guard": int(cut),
        "oversized_blocks": stats["oversized_blocks"],
        "seconds_blocking": round(sum(steps[k] for k in list(steps)[: list(steps).index("comparisons") + 1]), 2),
        "seconds_steps": steps,
        "seconds_total": round(time.perf_counter() - t0, 2),
        "model_version": model.version,
        "model_sha256": model.sha256(),
        "model_fallback": None,
        "model_message": "增量匹配沿用本季度已发布结果所用的人员匹配模型(不重新估计)",
        "model_weights": model.weight_rows(),
    }
    con.execute("DROP VIEW IF EXISTS res_node_rows")
    for name in _TEMP_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return result

# ---- the entry point used by the asset -------------------------------------------------------------
def resolve_with_refresh(
    con: duckdb.DuckDBPyConnection,
    quarter: str,
    *,
    model_path: str | os.PathLike,
    key: bytes,
    run_id: str | None = None,
    force_full: bool = False,
) -> dict:
    """Resolve the quarter incrementally when sound, else in full; record it in run_log.

    Returns resolve_quarter's counts plus `mode` (全量匹配 / 增量匹配), `mode_reason`,
    `changed_sources` (the sources with changed or removed rows: publish replaces these sources'
    rows), `rows_resolved` (rows actually re-resolved: the changed rows) and `seconds_decide`.
    """
    if not Path(model_path).exists():
        raise FileNotFoundError(f"人员匹配模型文件不存在: {model_path} (请先运行 retrain_person_model)")
    started = dt.datetime.now()
    now = basis(model_path, key)
    t0 = time.perf_counter()
    decision = decide(con, quarter, now, force_full)
    seconds_decide = round(time.perf_counter() - t0, 2)
    if decision.incremental:
        counts = resolve_incremental(
            con, quarter, decision.changed, model=decision.model, key=key, published=decision.published_sources,
            keys_staged=True,
        )
    else:
        for name in ("res_changed_keys", "res_removed_keys", "res_dropped_keys"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        counts = resolve_quarter(con, quarter, model_path=model_path, key=key)
        counts["rows_resolved"] = counts["rows"]
    counts.update(
        mode=decision.mode, mode_reason=decision.reason, changed_sources=decision.changed,
        seconds_decide=seconds_decide,
    )
    details = {
        **now,
        "model_sha256": counts["model_sha256"],
        "mode": decision.mode,
        "reason": decision.reason,
        "changed_sources": decision.changed,
        "rows": counts["rows"],
        "rows_resolved": counts["rows_resolved"],
        "rows_removed": counts.get("rows_removed", 0),
        "seconds": counts["seconds_total"],
        "result_digest": result_digest(con, "work_source_records", quarter),
    }
    if decision.incremental:
        # publish_quarter replaces only these sources' rows while both tables are still as here
        details.update(publish_sources=decision.changed, published_digest=decision.published_digest)
    with warehouse.transaction(con):
        con.execute(
            "INSERT INTO run_log (quarter, step, run_id, started_at, finished_at, details) VALUES (?, ?, ?, ?, ?, ?)",
            [quarter, RUN_LOG_STEP, run_id or uuid.uuid4().hex, started, dt.datetime.now(),
             json.dumps(details, ensure_ascii=False)],
        )
    return counts

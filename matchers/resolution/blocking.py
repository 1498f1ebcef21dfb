"""Stage 2: candidate pairs by DuckDB equi-joins on the blocking keys of `spec.BLOCKING_RULES`.

Works on the profile table `res_profiles` (one row per distinct attribute combination of a node:
a valid-ID person, an earlier person, or a row without a valid ID). Only pairs with at least one
side unresolved (no valid ID) are produced; oversized blocks are skipped and reported.
"""

from __future__ import annotations

import duckdb

from matchers.resolution import spec

PROFILE_COLUMNS = (
    "pid", "node", "unresolved", "id17", "id_prefix", "name_norm", "name_key", "name_pinyin",
    "surname_pinyin", "name_wildcard", "birth", "sex", "district",
)

_KEYS_SQL = """
CREATE OR REPLACE TEMP TABLE res_keys AS
WITH all_keys AS (
{unions}
),
useful AS (  -- a key only matters when a row without a valid ID carries it
    SELECT rule, key,
           count(*) FILTER (WHERE unresolved) AS n_unresolved,
           count(*) AS n_all
    FROM all_keys
    GROUP BY rule, key
    HAVING bool_or(unresolved)
)
SELECT k.rule, k.key, k.pid, k.node, k.unresolved, u.n_unresolved, u.n_all
FROM all_keys k JOIN useful u USING (rule, key)
"""

_OVERSIZED_SQL = """
SELECT rule, count(*) AS blocks, sum(n_all) AS profiles, max(n_unresolved * n_all) AS largest_pairs
FROM (SELECT DISTINCT rule, key, n_unresolved, n_all FROM res_keys)
WHERE n_unresolved * n_all > ?
GROUP BY rule ORDER BY rule
"""

_PAIRS_SQL = """
CREATE OR REPLACE TEMP TABLE res_pairs AS
SELECT DISTINCT a.pid AS pid_l, b.pid AS pid_r
FROM res_keys a
JOIN res_keys b ON a.rule = b.rule AND a.key = b.key
WHERE a.unresolved
  AND a.n_unresolved * a.n_all <= ?
  AND a.node <> b.node
  AND (NOT b.unresolved OR a.node < b.node)
"""


def build_pairs(con: duckdb.DuckDBPyConnection) -> dict:
    """Fill `res_pairs(pid_l, pid_r)` from `res_profiles`; return counts and the oversized blocks."""
    unions = "\nUNION ALL\n".join(
        f"    SELECT '{rule.key}' AS rule, {rule.sql} AS key, pid, node, unresolved "
        f"FROM res_profiles WHERE ({rule.sql}) IS NOT NULL"
        for rule in spec.BLOCKING_RULES
    )
    con.execute(_KEYS_SQL.format(unions=unions))
    oversized = [
        {"rule": r[0], "blocks": int(r[1]), "profiles": int(r[2]), "largest_pairs": int(r[3])}
        for r in con.execute(_OVERSIZED_SQL, [spec.MAX_BLOCK_PAIRS]).fetchall()
    ]
    con.execute(_PAIRS_SQL, [spec.MAX_BLOCK_PAIRS])
    n_pairs = con.execute("SELECT count(*) FROM res_pairs").fetchall()[0][0]
    con.execute("DROP TABLE res_keys")
    return {"pairs": int(n_pairs), "oversized_blocks": oversized}

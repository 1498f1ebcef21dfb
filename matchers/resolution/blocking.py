"""Stage 2: candidate pairs by DuckDB equi-joins on the blocking keys of `spec.BLOCKING_RULES`.

Works on the profile table `res_profiles` (one row per distinct attribute combination of a node:
a valid-ID person, an earlier person, or a row without a valid ID). Only pairs with at least one
side unresolved (no valid ID) are produced. Per rule: the keys of the unresolved profiles (few),
their block sizes over all profiles (a semi-join), then the join of the blocks under the cap;
oversized blocks are skipped and reported.
"""

from __future__ import annotations

import duckdb

from matchers.resolution import spec

# {key} is a rule's SQL expression (spec constants, never data); values are bound parameters.
_UNRESOLVED_KEYS_SQL = """
CREATE OR REPLACE TEMP TABLE res_block_keys AS
SELECT key, count(*) AS n_unresolved
FROM (SELECT {key} AS key FROM res_profiles WHERE unresolved)
WHERE key IS NOT NULL
GROUP BY key
"""

_BLOCK_SIZES_SQL = """
CREATE OR REPLACE TEMP TABLE res_block_sizes AS
SELECT k.key, k.n_unresolved, s.n_all
FROM res_block_keys k
JOIN (
    SELECT {key} AS key, count(*) AS n_all
    FROM res_profiles
    WHERE {key} IN (SELECT key FROM res_block_keys)
    GROUP BY 1
) s USING (key)
"""

_OVERSIZED_SQL = """
SELECT count(*), coalesce(sum(n_all), 0), coalesce(max(n_unresolved * n_all), 0)
FROM res_block_sizes WHERE n_unresolved * n_all > ?
"""

_PAIRS_SQL = """
INSERT INTO res_pairs
SELECT a.pid AS pid_l, b.pid AS pid_r
FROM (
    SELECT pid, node, {key} AS key FROM res_profiles WHERE unresolved
) a
JOIN res_block_sizes s ON s.key = a.key AND s.n_unresolved * s.n_all <= ?
JOIN (
    SELECT pid, node, unresolved, {key} AS key FROM res_profiles
    WHERE {key} IN (SELECT key FROM res_block_sizes WHERE n_unresolved * n_all <= ?)
) b ON b.key = a.key
WHERE a.node <> b.node AND (NOT b.unresolved OR a.node < b.node)
"""


def build_pairs(con: duckdb.DuckDBPyConnection) -> dict:
    """Fill `res_pairs(pid_l, pid_r)` from `res_profiles`; return counts and the oversized blocks."""
    cap = spec.MAX_BLOCK_PAIRS
    con.execute("CREATE OR REPLACE TEMP TABLE res_pairs (pid_l BIGINT, pid_r BIGINT)")
    oversized = []
    for rule in spec.BLOCKING_RULES:
        con.execute(_UNRESOLVED_KEYS_SQL.format(key=rule.sql))
        con.execute(_BLOCK_SIZES_SQL.format(key=rule.sql))
        blocks, profiles, largest = con.execute(_OVERSIZED_SQL, [cap]).fetchall()[0]
        if blocks:
            oversized.append(
                {"rule": rule.key, "blocks": int(blocks), "profiles": int(profiles), "largest_pairs": int(largest)}
            )
        con.execute(_PAIRS_SQL.format(key=rule.sql), [cap, cap])
    # No ordering or numbering: the pairs are read once, as one stream (resolve._compared_batches).
    con.execute("CREATE OR REPLACE TEMP TABLE res_pairs AS SELECT DISTINCT pid_l, pid_r FROM res_pairs")
    n_pairs = con.execute("SELECT count(*) FROM res_pairs").fetchall()[0][0]
    con.execute("DROP TABLE IF EXISTS res_block_keys")
    con.execute("DROP TABLE IF EXISTS res_block_sizes")
    return {"pairs": int(n_pairs), "oversized_blocks": oversized}

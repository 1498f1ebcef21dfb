"""Resolve every accepted row of a quarter to a person.

`resolve_quarter` reads `stg_records` of the quarter and the published `persons` /
`source_records`, and writes (that quarter's rows only) `work_source_records`,
`work_household_members`, and the whole index `work_persons`. Publishing is someone else's step
(`matchers.warehouse.publish_quarter`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from matchers import warehouse
from matchers.resolution import blocking, cluster, households, model_store, person_ids, spec, sql_text, training
from matchers.resolution.compare import LEVEL_COLUMNS, compare_pairs
from matchers.resolution.model import DEFAULT_MODEL_PATH, Model

MODEL_ENV = "PERSON_MODEL_PATH"

_LEVEL_LABELS = {comp.key: [lv.label for lv in comp.levels] for comp in spec.COMPARISONS}


def model_path() -> Path:
    """PERSON_MODEL_PATH, else the committed default trained on the sample."""
    return Path(os.environ.get(MODEL_ENV) or DEFAULT_MODEL_PATH)


_PAIR_KEEP = ("pid_l", "pid_r", "node_l", "node_r", "tf_name_key", "tf_name_pinyin", *LEVEL_COLUMNS)


def stage_candidates(con: duckdb.DuckDBPyConnection, quarter: str) -> dict:
    """Stage 1 and 2 in DuckDB: nodes (one per valid ID), profiles, blocked candidate pairs
    (`res_pairs`) and their household inputs; nothing is fetched into Python."""
    t0 = time.perf_counter()
    con.execute(sql_text.ROWS, [quarter])
    con.execute(sql_text.ROWS_VIEW)
    con.execute(sql_text.ANCHORS)
    con.execute(sql_text.NODES)
    con.execute(sql_text.ROW_NODES)
    con.execute(sql_text.PROFILES)
    con.execute(sql_text.NODE_ROWS)
    con.execute(sql_text.NODE_DIAGNOSES)
    t1 = time.perf_counter()
    stats = blocking.build_pairs(con)
    t_pairs = time.perf_counter()
    con.execute(sql_text.CONTEXT, {"quarter": quarter})
    con.execute(sql_text.NODE_PAIRS)
    con.execute(sql_text.PAIR_HOUSEHOLD)
    stats["seconds"] = {
        "nodes_profiles": round(t1 - t0, 2),
        "blocking": round(t_pairs - t1, 2),
        "household_context": round(time.perf_counter() - t_pairs, 2),
    }
    return stats


def _compared_batches(
    con: duckdb.DuckDBPyConnection, sql: str = sql_text.PAIR_ATTRIBUTES
) -> Iterator[pl.DataFrame]:
    """The candidate pairs with their levels, `spec.PAIR_CHUNK` pairs at a time, in no set order.

    One query streams the pairs' attributes as Arrow record batches: only one batch is held in
    Python at a time, and only the levels and what scoring needs are kept of it. `sql`: the
    attributes query (the incremental refresh reads term frequencies it computed for the quarter).
    """
    reader = con.sql(sql).to_arrow_reader(spec.PAIR_CHUNK)
    for batch in reader:
        if batch.num_rows:
            yield compare_pairs(pl.from_arrow(batch)).select(_PAIR_KEEP)


def _empty_levels() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"pid_l": pl.Int64, "pid_r": pl.Int64, "node_l": pl.Int64, "node_r": pl.Int64,
                "tf_name_key": pl.Float64, "tf_name_pinyin": pl.Float64, **{c: pl.Int8 for c in LEVEL_COLUMNS}}
    )


# ---- stages shared by training and resolution ---------------------------------------------------
def prepare_candidates(con: duckdb.DuckDBPyConnection, quarter: str) -> tuple[pl.DataFrame, dict]:
    """Stage 1 and 2: nodes (one per valid ID), profiles, blocked candidate pairs with levels
    (all of them, ordered by pid_l, pid_r: for training; a run scores them batch by batch)."""
    stats = stage_candidates(con, quarter)
    t2 = time.perf_counter()
    chunks = list(_compared_batches(con))
    pairs = pl.concat(chunks).sort("pid_l", "pid_r") if chunks else _empty_levels()
    stats["seconds"]["comparisons"] = round(time.perf_counter() - t2, 2)
    return pairs, stats


def work_counts(con: duckdb.DuckDBPyConnection, quarter: str) -> dict:
    """What a resolution wrote for the quarter: rows, persons, index size, rows per match_method,
    review band, household member rows (the asset's metadata)."""
    counts = dict(
        con.execute(
            "SELECT match_method, count(*) FROM work_source_records WHERE quarter = ? GROUP BY 1", [quarter]
        ).fetchall()
    )
    return {
        "rows": int(sum(counts.values())),
        "persons": int(con.execute(
            "SELECT count(DISTINCT person_id) FROM work_source_records WHERE quarter = ?", [quarter]
        ).fetchall()[0][0]),
        "persons_index": int(con.execute("SELECT count(*) FROM work_persons").fetchall()[0][0]),
        "match_methods": {k: int(v) for k, v in counts.items()},
        "review_band": int(counts.get(spec.METHOD_REVIEW, 0)),
        "household_members": int(con.execute(
            "SELECT count(*) FROM work_household_members WHERE quarter = ?", [quarter]
        ).fetchall()[0][0]),
    }


# ---- each row's person and how it was found ---------------------------------------------------------
def stage_row_methods(con: duckdb.DuckDBPyConnection) -> None:
    """res_methods: the match_method labels and the auto-link threshold sql_text.ROW_METHODS reads."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE res_methods AS SELECT $exact AS exact, $repaired AS repaired, "
        "$new AS new_person, $prob AS prob, $review AS review, $auto::DOUBLE AS auto",
        {
            "exact": spec.METHOD_EXACT_ID,
            "repaired": spec.METHOD_REPAIRED_ID,
            "new": spec.METHOD_NEW,
            "prob": spec.METHOD_PROBABILISTIC,
            "review": spec.METHOD_REVIEW,
            "auto": spec.AUTO_LINK_PROBABILITY,
        },
    )


# ---- links ---------------------------------------------------------------------------------------
# node kinds for the sole-candidate test (NODE_KINDS): a row of this quarter without a valid ID,
# a person (valid ID, or an earlier person without one), anything else (never ranked)
ROW_NODE, PERSON_NODE = 0, 1
NODE_KINDS = """
SELECT CASE WHEN node_key LIKE 'R:%' THEN 0
            WHEN node_key LIKE 'I:%' OR node_key LIKE 'P:%' THEN 1 ELSE -1 END AS kind
FROM res_nodes ORDER BY node
"""


def node_kinds(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    return con.sql(NODE_KINDS).pl()["kind"].to_numpy()


def _link_edges(
    scored: pl.DataFrame, kinds: np.ndarray, node_pairs: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The node pairs that link: the best profile pair per node pair at or above the review band,
    plus a sole clear candidate (spec.SOLE_CANDIDATE_*): a row without a valid ID whose best
    candidate person scores at least SOLE_CANDIDATE_PROBABILITY and outweighs every other candidate
    person by SOLE_CANDIDATE_MARGIN_BITS. Both kinds below the auto-link threshold are marked 待核实
    (Q03). `kinds[node]`: ROW_NODE, PERSON_NODE or -1 (node_kinds); only persons compete, so another
    row without an ID (perhaps of the same person) never blocks the link.

    `node_pairs` (node_l, node_r, match_weight: the best weight of every candidate node pair) may be
    given when `scored` holds only the pairs at or above SOLE_CANDIDATE_PROBABILITY."""
    best = (
        scored.filter(pl.col("match_probability") >= spec.SOLE_CANDIDATE_PROBABILITY)
        .sort(["match_weight", "pid_l", "pid_r"], descending=[True, False, False])
        .unique(["node_l", "node_r"], keep="first", maintain_order=True)
    )
    best = best.with_columns(sole=pl.lit(False))
    if len(best.filter(pl.col("match_probability") < spec.REVIEW_PROBABILITY)):
        # every candidate node of each node without a valid ID, strongest first (all scores count)
        if node_pairs is None:
            node_pairs = scored.group_by("node_l", "node_r").agg(pl.col("match_weight").max())
        rows = pl.DataFrame({"node": np.flatnonzero(kinds == ROW_NODE)}).cast(pl.Int64)
        persons = pl.DataFrame({"other": np.flatnonzero(kinds == PERSON_NODE)}).cast(pl.Int64)
        ranked = (
            pl.concat([
                node_pairs.select(pl.col("node_l").alias("node"), pl.col("node_r").alias("other"), "match_weight"),
                node_pairs.select(pl.col("node_r").alias("node"), pl.col("node_l").alias("other"), "match_weight"),
            ])
            .with_columns(pl.col("node", "other").cast(pl.Int64))
            .join(rows, on="node", how="semi")
            .join(persons, on="other", how="semi")
            .sort(["match_weight", "other"], descending=[True, False])
            .group_by("node", maintain_order=True)
            .agg(pl.col("other").first(), pl.col("match_weight").first().alias("w1"),
                 pl.col("match_weight").slice(1, 1).first().alias("w2"))
            .filter(pl.col("w1") - pl.col("w2").fill_null(-1e9) >= spec.SOLE_CANDIDATE_MARGIN_BITS)
            .select("node", "other", sole_hit=pl.lit(True))
        )
        best = best.with_columns(pl.col("node_l", "node_r").cast(pl.Int64))
        for a, b in (("node_l", "node_r"), ("node_r", "node_l")):
            best = best.join(ranked.rename({"node": a, "other": b}), on=[a, b], how="left", maintain_order="left").with_columns(
                sole=pl.col("sole") | pl.col("sole_hit").fill_null(False)
            ).drop("sole_hit")
    best = best.filter((pl.col("match_probability") >= spec.REVIEW_PROBABILITY) | pl.col("sole"))
    explanation = _explanation_expr()
    return best.with_columns(
        match_explanation=pl.when(pl.col("sole") & (pl.col("match_probability") < spec.REVIEW_PROBABILITY))
        .then(pl.concat_str([explanation, pl.lit(f" ({spec.SOLE_CANDIDATE_NOTE})")]))
        .otherwise(explanation)
    ).select("node_l", "node_r", "match_weight", "match_probability", "match_explanation")


# ---- explanation --------------------------------------------------------------------------------
def _explanation_expr() -> pl.Expr:
    parts = []
    for comp in spec.COMPARISONS:
        lvl, w = pl.col(f"lvl_{comp.key}"), pl.col(f"w_{comp.key}")
        label = pl.lit(None, dtype=pl.String)
        for i, text in reversed(list(enumerate(_LEVEL_LABELS[comp.key]))):
            label = pl.when(lvl == i).then(pl.lit(text)).otherwise(label)
        sign = pl.when(w < 0).then(pl.lit(" −")).otherwise(pl.lit(" +"))
        parts.append(pl.concat_str([label, sign, w.abs().round(1).cast(pl.String)]))
    return pl.concat_str(
        [
            pl.concat_list(parts).list.drop_nulls().list.join(", "),
            pl.lit(" → "),
            pl.col("match_probability").round(4).cast(pl.String),
        ]
    )


# ---- person ids ---------------------------------------------------------------------------------
def _choose_person_ids(facts: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """person_id per cluster label, by precedence, unique across clusters.

    1. the person_id an earlier run gave this valid ID; 2. an earlier ID-less person linked into
    the cluster; 3. the keyed hash of the valid ID; 4. the person the cluster's rows had in the
    previous run of this quarter; 5. the keyed hash of the cluster's first record.
    """
    ids = facts["valid_id"].drop_nulls().to_list()
    id_hash = person_ids.person_ids_for_ids(key, ids)
    has_rows = facts["first_source"].is_not_null()
    firsts = facts.filter(has_rows).select(
        "label", "first_quarter_key", "first_source", "first_source_file", "first_source_row"
    )
    row_hash = {
        lbl: person_ids.person_id_for_record(key, q, s, f, int(r))
        for lbl, q, s, f, r in firsts.iter_rows()
    }
    df = facts.with_columns(
        id_hash=pl.col("valid_id").replace_strict(id_hash, default=None, return_dtype=pl.String),
        row_hash=pl.col("label").replace_strict(row_hash, default=None, return_dtype=pl.String),
    )
    candidates = ["id_anchor_pid", "idless_anchor_pid", "id_hash", "prev_pid", "row_hash"]
    df = df.with_columns(
        person_id=pl.coalesce(candidates),
        rule=pl.coalesce(
            [pl.when(pl.col(c).is_not_null()).then(pl.lit(i)) for i, c in enumerate(candidates)]
        ),
    )
    # The same id chosen by two clusters with rows: the better rule (then the larger cluster) keeps
    # it. An earlier person with no row this run whose id a cluster with rows took (through the
    # rows' previous person) is that same person: it merges into that cluster instead of pushing
    # the rows to a new id (so that reruns never alternate between two ids).
    df = df.with_columns(has_rows=pl.col("n_rows").fill_null(0) > 0).sort(
        ["person_id", "has_rows", "rule", "n_rows"],
        descending=[False, True, False, True],
        nulls_last=True,
    )
    dup = df["person_id"].is_duplicated() & ~df["person_id"].is_first_distinct() & df["has_rows"]
    if dup.any():
        taken = set(df.filter(~dup)["person_id"].to_list())
        fixed = []
        for lbl, rh, q, s, f, r in df.filter(dup).select(
            "label", "row_hash", "first_quarter_key", "first_source", "first_source_file", "first_source_row"
        ).iter_rows():
            pid, n = rh, 1
            while pid is None or pid in taken:
                pid = person_ids.person_id_for_record(key, f"{q}#{n}", s or "", f or "", int(r or 0))
                n += 1
            taken.add(pid)
            fixed.append((lbl, pid))
        fix = dict(fixed)
        df = df.with_columns(
            person_id=pl.when(dup).then(pl.col("label").replace_strict(fix, default=None)).otherwise("person_id")
        )
    return df.select("label", "person_id")


# ---- the run ------------------------------------------------------------------------------------
def best_links(edges: pl.DataFrame) -> pl.DataFrame:
    """Per node, its strongest kept link (node, match_probability, match_explanation): what
    explains a row without a valid ID. Ties go to the lower node number."""
    return (
        pl.concat(
            [
                edges.select(pl.col("node_l").alias("node"), "match_weight", "match_probability", "match_explanation"),
                edges.select(pl.col("node_r").alias("node"), "match_weight", "match_probability", "match_explanation"),
            ]
        )
        .sort(["match_weight", "node"], descending=[True, False])
        .unique("node", keep="first", maintain_order=True)
        .drop("match_weight")
    )


def resolve_quarter(
    con: duckdb.DuckDBPyConnection, quarter: str, *, model_path: str | os.PathLike, key: bytes,
    model: Model | None = None,
) -> dict:
    """Resolve the quarter's rows; write work_source_records / work_persons / work_household_members
    and keep the model in force with the quarter (match_models).

    The model is estimated on the quarter (training.quarter_model); the file at `model_path` is the
    fallback. `model` given: that model is used as it is (a run reproducing another's scores)."""
    t0 = time.perf_counter()
    if not Path(model_path).exists():
        raise FileNotFoundError(f"人员匹配模型文件不存在: {model_path} (请先运行 retrain_person_model)")
    stats = stage_candidates(con, quarter)
    t_staged = time.perf_counter()
    if model is None:
        estimate = training.quarter_model(con, quarter, Model.load(model_path))
    else:
        estimate = training.Estimate(model, False, [], {"given": True})
    model = estimate.model
    stats["seconds"]["model_estimate"] = round(time.perf_counter() - t_staged, 2)
    t_block = time.perf_counter()
    n_nodes = con.execute("SELECT count(*) FROM res_nodes").fetchall()[0][0]
    valid_code = np.where(
        con.sql("SELECT valid FROM res_nodes ORDER BY node").pl()["valid"].to_numpy(), 1, -1
    ) if n_nodes else np.zeros(0, dtype=np.int64)

    # Scored batch by batch as the pairs stream in. Kept: the pairs strong enough to link (see
    # _link_edges) and, per node pair, its best weight (the sole-candidate test ranks all of them).
    strong, best_weights = [], []
    for batch in _compared_batches(con):
        scored = model.score(batch, n_nodes)
        strong.append(
            scored.filter(pl.col("match_probability") >= spec.SOLE_CANDIDATE_PROBABILITY).drop(
                "tf_name_key", "tf_name_pinyin"
            )
        )
        best_weights.append(scored.group_by("node_l", "node_r").agg(pl.col("match_weight").max()))
        del batch, scored
    t_scored = time.perf_counter()
    stats["seconds"]["comparisons"] = round(t_scored - t_block, 2)  # with the scoring
    for t in ("res_pairs", "res_node_pairs", "res_pair_household", "res_ctx", "res_profiles"):
        con.execute(f"DROP TABLE IF EXISTS {t}")  # not needed past this point: free DuckDB's memory
    if strong:
        scored = pl.concat(strong)
        node_pairs = pl.concat(best_weights).group_by("node_l", "node_r").agg(pl.col("match_weight").max())
    else:
        scored = _empty_levels().drop("tf_name_key", "tf_name_pinyin").with_columns(
            *[pl.lit(0.0).alias(f"w_{c.key}") for c in spec.COMPARISONS],
            match_weight=pl.lit(0.0), match_probability=pl.lit(0.0),
        )
        node_pairs = None
    del strong, best_weights
    edges = _link_edges(scored, node_kinds(con) if n_nodes else np.zeros(0, dtype=np.int64), node_pairs)
    del scored, node_pairs
    labels, kept, cut = cluster.guarded_clusters(
        n_nodes,
        edges["node_l"].to_numpy(),
        edges["node_r"].to_numpy(),
        edges["match_weight"].to_numpy(),
        valid_code,
    )
    edges = edges.filter(pl.Series(kept))
    warehouse.temp_table(con, "res_labels", pl.DataFrame({"node": np.arange(n_nodes), "label": labels}))
    best = best_links(edges)
    con.execute(sql_text.CLUSTER_FACTS)
    facts = con.sql("SELECT * FROM res_cluster_facts").pl()
    chosen = _choose_person_ids(facts, key)
    warehouse.temp_table(con, "res_cluster_pid", chosen)
    warehouse.temp_table(con, "res_best", best)

    # A view, not a table: the wide rows are written once, straight into work_source_records. A
    # view cannot take parameters: the labels are bound into a one-row table it reads.
    stage_row_methods(con)
    con.execute("CREATE OR REPLACE TEMP VIEW res_out AS " + sql_text.ROW_METHODS)
    persons_rel = con.sql(sql_text.PERSONS, params={"quarter": quarter}).pl()
    con.register("res_persons_df", persons_rel)
    with warehouse.transaction(con):
        warehouse.replace_rows(con, "work_source_records", {"quarter": quarter}, "res_out")
        warehouse.replace_rows(con, "work_persons", {}, "res_persons_df")
        households.write_household_members(con, quarter, model)
        model_sha = model_store.store(con, quarter, estimate)
    con.unregister("res_persons_df")

    result = {
        **work_counts(con, quarter),
        "candidate_pairs": stats["pairs"],
        "links": len(edges),
        "links_cut_by_guard": int(cut),
        "oversized_blocks": stats["oversized_blocks"],
        "seconds_blocking": round(t_staged - t0, 2),
        "seconds_steps": {**stats["seconds"], "clustering_writing": round(time.perf_counter() - t_scored, 2)},
        "seconds_total": round(time.perf_counter() - t0, 2),
        "model_version": model.version,
        "model_sha256": model_sha,
        "model_fallback": estimate.fallback,
        "model_message": estimate.message,
        "model_evidence": estimate.evidence,
        "model_weights": model.weight_rows(),
    }
    con.execute("DROP VIEW IF EXISTS res_out")
    con.execute("DROP VIEW IF EXISTS res_node_rows")
    con.execute("DROP VIEW IF EXISTS res_rows")
    for t in ("res_row_keys", "res_anchors", "res_nodes", "res_row_nodes", "res_profiles", "res_pairs",
              "res_ctx", "res_node_pairs", "res_pair_household", "res_node_diag", "res_node_meds",
              "res_labels", "res_cluster_facts", "res_cluster_pid", "res_best", "res_methods"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return result


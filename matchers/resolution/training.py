"""Estimating the person-matching model from staged rows: the quarter's own model in every full
run (`quarter_model`), and the explicit retraining of the shipped fallback file (`train_model`).

The evidence, as in Splink: u from random pairs of the quarter's profiles (what strangers agree
on), m of every comparison but the ID from the pairs of rows sharing a valid ID (known matches),
m of the ID comparison by EM on a sample of the blocked candidate pairs. Every sample is drawn
deterministically (ordered by a hash, fixed seed), so a rerun of the same data gets the same model
and bounded in size (spec.U_SAMPLE_PAIRS, LABELLED_PAIRS, EM_SAMPLE_PAIRS) at any scale.

`quarter_model` checks the estimate against spec's evidence minimums and plausibility bounds and
returns the shipped fallback, with the reasons in Chinese, when the quarter cannot carry its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl

from matchers import warehouse
from matchers.resolution import spec, sql_text
from matchers.resolution.compare import LEVEL_COLUMNS, NULL, compare_pairs
from matchers.resolution.model import Model, train

_TRAIN_PAIRS = "res_train_pairs"
_RANDOM_SEED = 20260930


@dataclass
class Estimate:
    """The model in force for a run: the quarter's estimate, or the fallback and why."""

    model: Model
    fallback: bool
    reasons: list[str] = field(default_factory=list)  # Chinese: why the fallback, or what was borrowed
    evidence: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        if self.evidence.get("given"):
            return "使用指定的人员匹配模型(不按本季度数据估计)"
        if not self.fallback:
            return "人员匹配模型按本季度数据估计(m 取自身份证号一致的记录对, u 取自随机记录对)" + "".join(
                f";{r}" for r in self.reasons
            )
        return "本季度数据不足以估计人员匹配模型, 改用随程序提供的默认模型: " + ";".join(self.reasons)


# ---- the three samples --------------------------------------------------------------------------
def _non_null(levels: pl.DataFrame) -> dict[str, int]:
    return {c.key: int((levels[f"lvl_{c.key}"] != NULL).sum()) for c in spec.COMPARISONS}


def candidate_sample_levels(con: duckdb.DuckDBPyConnection, n_pairs: int = spec.EM_SAMPLE_PAIRS) -> pl.DataFrame:
    """Levels (and name term frequencies) of up to `n_pairs` of the blocked candidates (res_pairs),
    drawn by a hash of the pair: the EM sample."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_TRAIN_PAIRS} AS "
        "SELECT * FROM res_pairs ORDER BY hash(pid_l, pid_r), pid_l, pid_r LIMIT $n",
        {"n": n_pairs},
    )
    reader = con.sql(sql_text.pair_attributes(_TRAIN_PAIRS)).to_arrow_reader(spec.PAIR_CHUNK)
    chunks = [
        compare_pairs(pl.from_arrow(b)).select(*LEVEL_COLUMNS, "tf_name_key", "tf_name_pinyin")
        for b in reader if b.num_rows
    ]
    con.execute(f"DROP TABLE IF EXISTS {_TRAIN_PAIRS}")
    if not chunks:
        return pl.DataFrame(schema={**{c: pl.Int8 for c in LEVEL_COLUMNS},
                                    "tf_name_key": pl.Float64, "tf_name_pinyin": pl.Float64})
    return pl.concat(chunks)


def random_pair_levels(con: duckdb.DuckDBPyConnection, n_pairs: int, seed: int = _RANDOM_SEED) -> pl.DataFrame:
    """Levels of random profile pairs (for u): what agreement looks like between strangers.

    Overwrites res_node_pairs / res_pair_household with the random pairs' (callers that score
    candidates afterwards build them again: `restore_candidate_household`)."""
    profiles = con.sql(sql_text.PROFILE_TABLE + " ORDER BY pid").pl()
    if len(profiles) < 2:
        return pl.DataFrame({c: pl.Series([], dtype=pl.Int8) for c in LEVEL_COLUMNS})
    rng = np.random.default_rng(seed)
    i = rng.integers(0, len(profiles), n_pairs)
    j = rng.integers(0, len(profiles), n_pairs)
    keep = profiles["node"].to_numpy()[i] != profiles["node"].to_numpy()[j]
    left = profiles[i[keep]].drop("pid")
    right = profiles[j[keep]].drop("pid")
    pairs = pl.concat(
        [left.rename({c: f"{c}_l" for c in left.columns}), right.rename({c: f"{c}_r" for c in right.columns})],
        how="horizontal",
    )
    # the household inputs of these node pairs, as for the candidates
    warehouse.temp_table(con, "res_node_pairs", pairs.select("node_l", "node_r").unique())
    con.execute(sql_text.PAIR_HOUSEHOLD)
    household = con.sql("SELECT * FROM res_pair_household").pl()
    pairs = pairs.join(household, on=["node_l", "node_r"], how="left")
    pairs = _with_settlements(con, pairs)
    return compare_pairs(pairs).select(LEVEL_COLUMNS)


def restore_candidate_household(con: duckdb.DuckDBPyConnection) -> None:
    """res_node_pairs / res_pair_household of the candidates again (after random_pair_levels)."""
    con.execute(sql_text.NODE_PAIRS)
    con.execute(sql_text.PAIR_HOUSEHOLD)


def _with_settlements(con: duckdb.DuckDBPyConnection, pairs: pl.DataFrame) -> pl.DataFrame:
    """The diagnosis inputs of random pairs, as PAIR_ATTRIBUTES gives them for candidates."""
    node_diag = con.sql("SELECT node, diagnosis FROM res_node_diag").pl()
    meds = con.sql("SELECT node, meds FROM res_node_meds").pl()
    for side, other in (("l", "r"), ("r", "l")):
        pairs = pairs.join(
            node_diag.with_columns(pl.lit(True).alias(f"diag_in_{other}"))
            .rename({"node": f"node_{other}", "diagnosis": f"diagnosis_{side}"}),
            on=[f"node_{other}", f"diagnosis_{side}"], how="left",
        ).join(meds.rename({"node": f"node_{other}", "meds": f"meds_{other}"}), on=f"node_{other}", how="left")
    return pairs


def labelled_levels(con: duckdb.DuckDBPyConnection, n_pairs: int) -> pl.DataFrame:
    """Levels of up to `n_pairs` pairs of rows sharing a valid ID, plus one diagnosis level per
    settlement row (sql_text.DIAGNOSIS_LABELLED, the other comparisons null)."""
    lab = con.sql(sql_text.LABELLED_PAIRS, params={"n": n_pairs}).pl()
    frames = [compare_pairs(lab).select(LEVEL_COLUMNS)] if len(lab) else []
    keys = [r[0] for r in con.execute(sql_text.DIAGNOSIS_LABELLED).fetchall()]
    diag = {c: pl.Series(c, [NULL] * len(keys), dtype=pl.Int8) for c in LEVEL_COLUMNS}
    diag["lvl_diagnosis"] = pl.Series("lvl_diagnosis", [spec.DIAGNOSIS.level_index(k) for k in keys], dtype=pl.Int8)
    frames.append(pl.DataFrame(list(diag.values())))
    return pl.concat(frames)


# u of the birth comparison from the birth dates' frequencies over the quarter's profiles: the
# share of pairs of distinct profiles born the same day, in the same year on another day, else.
# Random pairs compare birth dates only where no 17 ID digits are compared (a few thousand of the
# sample), and an exact date agrees for about 1 stranger pair in 20,000: counted from random pairs
# it swings by several bits between two runs of one quarter; from the frequencies it is exact.
_BIRTH_U = """
WITH p AS (SELECT birth FROM res_profiles WHERE birth IS NOT NULL),
n AS (SELECT count(*)::DOUBLE AS n FROM p),
same_day AS (SELECT sum(c * (c - 1)) AS k FROM (SELECT count(*)::DOUBLE AS c FROM p GROUP BY birth)),
same_year AS (SELECT sum(c * (c - 1)) AS k FROM (SELECT count(*)::DOUBLE AS c FROM p GROUP BY year(birth)))
SELECT n.n, same_day.k / (n.n * (n.n - 1)), same_year.k / (n.n * (n.n - 1))
FROM n, same_day, same_year
"""


def birth_u(con: duckdb.DuckDBPyConnection) -> dict[str, list[float]]:
    """{"birth": u per level} from _BIRTH_U, or {} with fewer than two birth dates."""
    n, day, year = con.execute(_BIRTH_U).fetchall()[0]
    if not n or n < 2:
        return {}
    exact = max(day, spec.U_FLOOR)
    same_year = max(year - day, spec.U_FLOOR)
    levels = {"exact": exact, "same_year": same_year, "else": max(1.0 - exact - same_year, spec.U_FLOOR)}
    return {spec.BIRTH.key: [float(levels[lv.key]) for lv in spec.BIRTH.levels]}


def matches_per_record(con: duckdb.DuckDBPyConnection) -> float:
    return float(con.execute(sql_text.MATCHES_PER_RECORD).fetchall()[0][0])


# ---- the quarter's own model --------------------------------------------------------------------
def quarter_model(con: duckdb.DuckDBPyConnection, quarter: str, fallback: Model) -> Estimate:
    """Estimate the model on the quarter staged by resolve._stage_candidates (res_* tables, candidate
    pairs blocked); the fallback where the evidence is too thin or the estimate implausible."""
    lab = labelled_levels(con, spec.LABELLED_PAIRS)
    cand = candidate_sample_levels(con)
    rows = con.execute("SELECT count(*) FROM res_rows").fetchall()[0][0]
    evidence = {
        "rows": int(rows),
        "labelled_pairs_per_comparison": {k: v for k, v in _non_null(lab).items() if k in spec.M_FROM_LABELLED},
        "candidate_pairs_sampled": len(cand),
        "candidate_pairs_with_id_level": int((cand["lvl_id"] != NULL).sum()),
    }
    reasons = evidence_shortfalls(evidence)
    if reasons:  # the random pairs are not drawn: nothing would use them
        return Estimate(fallback, True, reasons, evidence)
    rand = random_pair_levels(con, spec.U_SAMPLE_PAIRS)
    restore_candidate_household(con)
    evidence.update(random_pairs=len(rand), random_pairs_per_comparison=_non_null(rand))
    reasons = evidence_shortfalls(evidence)
    if reasons:
        return Estimate(fallback, True, reasons, evidence)
    model = train(cand, rand, lab, matches_per_record(con), {"quarters": [quarter], "rows": int(rows)},
                  birth_u(con))
    thin = thin_comparisons(evidence)
    model = borrow(model, fallback, thin)
    evidence.update(em_iterations=model.trained_on["em_iterations"], em_converged=model.trained_on["em_converged"],
                    borrowed_from_fallback=thin)
    reasons = implausibilities(model, fallback)
    if reasons:
        return Estimate(fallback, True, reasons, evidence)
    notes = ["以下比较项本季度可比的记录对太少, 沿用默认模型的权重:" + _thin_text(evidence, thin)] if thin else []
    # as kept in the warehouse (rounded in its JSON): a refresh reading it back scores the same
    return Estimate(Model.from_json(model.to_json()), False, notes, evidence)


def thin_comparisons(evidence: dict) -> list[str]:
    """The comparisons of M_FROM_LABELLED with fewer known-match pairs than spec.MIN_LABELLED_PAIRS."""
    return [
        key for key, n in evidence["labelled_pairs_per_comparison"].items()
        if n < spec.MIN_LABELLED_PAIRS.get(key, spec.MIN_LABELLED_PAIRS_DEFAULT)
    ]


def _thin_text(evidence: dict, keys: list[str]) -> str:
    labels = {c.key: c.label for c in spec.COMPARISONS}
    return "、".join(
        f"「{labels[k]}」{evidence['labelled_pairs_per_comparison'][k]} 对"
        f"(至少需要 {spec.MIN_LABELLED_PAIRS.get(k, spec.MIN_LABELLED_PAIRS_DEFAULT)} 对)"
        for k in keys
    )


def evidence_shortfalls(evidence: dict) -> list[str]:
    """What the quarter lacks to estimate its own model (spec.MIN_*), in Chinese: a core comparison
    with too few known-match pairs, too few random pairs, too few candidates for EM."""
    out = []
    core = [k for k in thin_comparisons(evidence) if k in spec.CORE_COMPARISONS]
    if core:
        out.append("身份证号一致的记录对中可比的对数不足:" + _thin_text(evidence, core))
    if evidence.get("random_pairs", spec.MIN_RANDOM_PAIRS) < spec.MIN_RANDOM_PAIRS:
        out.append(f"随机记录对只有 {evidence['random_pairs']} 对(至少需要 {spec.MIN_RANDOM_PAIRS} 对)")
    if evidence["candidate_pairs_with_id_level"] < spec.MIN_EM_PAIRS:
        out.append(
            f"可比身份证号的候选记录对只有 {evidence['candidate_pairs_with_id_level']} 对"
            f"(估计身份证号比较项至少需要 {spec.MIN_EM_PAIRS} 对)"
        )
    return out


def borrow(model: Model, shipped: Model, keys: list[str]) -> Model:
    """`model` with the m and u of comparisons `keys` taken from the shipped model."""
    m = {k: (shipped.m[k] if k in keys else v) for k, v in model.m.items()}
    u = {k: (shipped.u[k] if k in keys else v) for k, v in model.u.items()}
    return Model(model.matches_per_record, m, u, model.version, dict(model.trained_on, borrowed=keys))


def implausibilities(model: Model, shipped: Model) -> list[str]:
    """Why an estimate is not to be trusted (EM not converged, an agreeing level with m < u, a
    weight more than spec.MAX_WEIGHT_SHIFT_BITS from the shipped model's), in Chinese."""
    out = []
    if not model.trained_on.get("em_converged", False):
        out.append(f"身份证号比较项的 EM 估计在 {spec.EM_ITERATIONS} 次迭代内未收敛")
    for comp in spec.COMPARISONS:
        m, u = np.asarray(model.m[comp.key]), np.asarray(model.u[comp.key])
        w, w0 = model.level_weights(comp), shipped.level_weights(comp)
        for i, level in enumerate(comp.levels):
            if level.key in spec.AGREEING_LEVELS.get(comp.key, ()) and m[i] < u[i]:
                out.append(f"「{level.label}」的 m({m[i]:.4f})小于 u({u[i]:.4f}):一致反而成了不是同一人的证据")
            if abs(w[i] - w0[i]) > spec.MAX_WEIGHT_SHIFT_BITS:
                out.append(
                    f"「{level.label}」的权重 {w[i]:+.1f} 与默认模型的 {w0[i]:+.1f} 相差超过 "
                    f"{spec.MAX_WEIGHT_SHIFT_BITS:g}"
                )
    return out


# ---- explicit retraining of the fallback file ------------------------------------------------------
def train_model(con: duckdb.DuckDBPyConnection, quarters: list[str] | None = None) -> Model:
    """Explicit retraining (job retrain_person_model): the same estimate over the given quarters
    (all staged quarters by default), each quarter's samples a share of the totals."""
    from matchers.resolution.resolve import stage_candidates

    if quarters is None:
        quarters = [r[0] for r in con.execute("SELECT DISTINCT quarter FROM stg_records ORDER BY 1").fetchall()]
    if not quarters:
        raise ValueError("stg_records 为空, 无法训练人员匹配模型")
    cand, rand, lab, rho, births, rows = [], [], [], [], [], 0
    share = len(quarters)
    for q in quarters:
        stage_candidates(con, q)
        cand.append(candidate_sample_levels(con, max(spec.EM_SAMPLE_PAIRS // share, 1000)))
        rand.append(random_pair_levels(con, max(spec.U_SAMPLE_PAIRS // share, 1000)))
        restore_candidate_household(con)
        lab.append(labelled_levels(con, max(spec.LABELLED_PAIRS // share, 1000)))
        rho.append(matches_per_record(con))
        births += [b[spec.BIRTH.key] for b in [birth_u(con)] if b]
        rows += con.execute("SELECT count(*) FROM res_rows").fetchall()[0][0]
    labelled = pl.concat(lab)
    if not int((labelled["lvl_name"] != NULL).sum()):
        raise ValueError("没有身份证号一致的记录对, 无法估计姓名/区等比较项的 m 概率")
    u_exact = {spec.BIRTH.key: [float(x) for x in np.mean(births, axis=0)]} if births else None
    return train(pl.concat(cand), pl.concat(rand), labelled, float(np.mean(rho)),
                 {"quarters": quarters, "rows": int(rows)}, u_exact)

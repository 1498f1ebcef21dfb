"""Stage 3b: the Fellegi-Sunter model: u by random sampling, m by EM, names adjusted by term
frequency, saved as a small versioned JSON file.

A model is ρ (the share of records whose person has other records) and, per comparison of
`spec.COMPARISONS`, m and u per level. The weight of a level is log2(m/u); a pair's match weight is
the prior log2(ρ/N) (N nodes in the run: persons by valid ID, earlier persons, rows without a valid
ID) plus the sum of its level weights; its
probability is 1/(1+2^-weight). m of name, birth, sex, district, diagnosis and household come from
the Stage 1 pairs (rows sharing a valid ID, known matches); EM on the candidates estimates the ID
comparison's m. Levels listed in spec.M_FIXED_LEVELS / M_FIXED_LABELLED_LEVELS / U_FIXED_LEVELS
are set, not learnt.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from matchers.resolution import spec
from matchers.resolution.compare import NULL

# The shipped model (trained on the committed sample): the fallback of a quarter that cannot carry
# its own estimate.
DEFAULT_MODEL_PATH = Path(__file__).with_name("person_model.json")


@dataclass
class Model:
    matches_per_record: float
    m: dict[str, list[float]]
    u: dict[str, list[float]]
    version: int = spec.MODEL_VERSION
    trained_on: dict = field(default_factory=dict)

    # ---- weights ------------------------------------------------------------------------------
    def level_weights(self, comparison: spec.Comparison) -> np.ndarray:
        m = np.asarray(self.m[comparison.key], dtype=float)
        u = np.asarray(self.u[comparison.key], dtype=float)
        return np.log2(np.maximum(m, 1e-12) / np.maximum(u, spec.U_FLOOR))

    def prior_weight(self, n_nodes: int) -> float:
        """log2 odds that a row without a valid ID belongs to a given one of `n_nodes` nodes."""
        p = min(self.matches_per_record / max(n_nodes, 1), 0.5)
        return math.log2(p / (1.0 - p))

    def score(self, pairs: pl.DataFrame, n_nodes: int) -> pl.DataFrame:
        """Add `w_<comparison>` per comparison, `match_weight` and `match_probability`.

        Term-frequency adjustment: where a tf-level holds, u is replaced by the frequency of the
        agreeing value (`tf_name_key` / `tf_name_pinyin` columns, shares of all nodes).
        """
        out = {}
        total = np.full(len(pairs), self.prior_weight(n_nodes))
        for comp in spec.COMPARISONS:
            lv = pairs[f"lvl_{comp.key}"].to_numpy()
            weights = self.level_weights(comp)
            w = np.where(lv == NULL, 0.0, weights[np.clip(lv, 0, None)])
            if comp.key == spec.NAME.key:
                u = np.asarray(self.u[comp.key])
                for i, level in enumerate(comp.levels):
                    if not level.tf:
                        continue
                    tf_col = "tf_name_pinyin" if level.key == "pinyin" else "tf_name_key"
                    tf = np.maximum(pairs[tf_col].fill_null(spec.TF_MINIMUM).to_numpy(), spec.TF_MINIMUM)
                    adj = np.log2(max(u[i], spec.U_FLOOR) / tf)
                    w = np.where(lv == i, w + adj, w)
            out[f"w_{comp.key}"] = w
            total = total + w
        prob = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
        return pairs.with_columns(
            *[pl.Series(k, v) for k, v in out.items()],
            match_weight=pl.Series(total),
            match_probability=pl.Series(prob),
        )

    def weight_rows(self) -> list[dict]:
        """One row per comparison level: its m, u and weight log2(m/u) (the chart and the table of
        the model in force; a term-frequency level's weight is the one a name of average frequency
        gets)."""
        rows = []
        for comp in spec.COMPARISONS:
            weights = self.level_weights(comp)
            for i, level in enumerate(comp.levels):
                rows.append({
                    "comparison": comp.key, "comparison_label": comp.label, "level": level.key,
                    "level_label": level.label, "level_order": i, "m": float(self.m[comp.key][i]),
                    "u": float(self.u[comp.key][i]), "weight": float(weights[i]),
                })
        return rows

    def sha256(self) -> str:
        """The model's identity: the hash of its canonical JSON (what the warehouse keeps)."""
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()

    # ---- persistence ----------------------------------------------------------------------------
    def to_json(self) -> str:
        doc = {
            "format": "person-match-model",
            "version": self.version,
            "matches_per_record": round(self.matches_per_record, 6),
            "comparisons": {
                comp.key: {
                    "levels": [lv.key for lv in comp.levels],
                    "m": [round(x, 10) for x in self.m[comp.key]],
                    "u": [round(x, 10) for x in self.u[comp.key]],
                }
                for comp in spec.COMPARISONS
            },
            "trained_on": self.trained_on,
        }
        return json.dumps(doc, ensure_ascii=False, indent=1)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, text: str) -> "Model":
        doc = json.loads(text)
        if doc.get("format") != "person-match-model":
            raise ValueError("不是人员匹配模型文件")
        if doc.get("version") != spec.MODEL_VERSION:
            raise ValueError(
                f"模型文件版本 {doc.get('version')} 与程序版本 {spec.MODEL_VERSION} 不一致, 请重新训练"
            )
        m, u = {}, {}
        for comp in spec.COMPARISONS:
            entry = doc["comparisons"][comp.key]
            if entry["levels"] != [lv.key for lv in comp.levels]:
                raise ValueError(f"模型文件中比较项 {comp.key} 的级别与规格不一致, 请重新训练")
            m[comp.key], u[comp.key] = entry["m"], entry["u"]
        return cls(doc["matches_per_record"], m, u, doc["version"], doc.get("trained_on", {}))

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


# ---- training ---------------------------------------------------------------------------------
def estimate_u(random_levels: pl.DataFrame) -> dict[str, list[float]]:
    """u per level: the level frequencies among random pairs (nulls excluded), floored."""
    u = {}
    for comp in spec.COMPARISONS:
        lv = random_levels[f"lvl_{comp.key}"].to_numpy()
        lv = lv[lv != NULL]
        n = len(comp.levels)
        counts = np.bincount(lv, minlength=n).astype(float) if len(lv) else np.zeros(n)
        freq = (counts + 0.5) / (counts.sum() + 0.5 * n)  # add-half smoothing: never 0
        freq = _with_fixed(comp, np.maximum(freq, spec.U_FLOOR), spec.U_FIXED_LEVELS)
        u[comp.key] = [float(x) for x in freq]
    return u


def _with_fixed(comp: spec.Comparison, p: np.ndarray, fixed_levels: dict) -> np.ndarray:
    """Set the levels fixed in `fixed_levels[comp.key]`; scale the others to fill the rest."""
    fixed = fixed_levels.get(comp.key, {})
    if not fixed:
        return p
    idx = {comp.level_index(k): v for k, v in fixed.items()}
    free = [i for i in range(len(p)) if i not in idx]
    out = np.array(p, dtype=float)
    rest = out[free].sum()
    for i, v in idx.items():
        out[i] = v
    if free:
        out[free] = out[free] / rest * (1.0 - sum(idx.values())) if rest > 0 else (1.0 - sum(idx.values())) / len(free)
    return out


def estimate_m_labelled(labelled_levels: pl.DataFrame) -> dict[str, list[float]]:
    """m per level from known matches (Stage 1 pairs), floored at spec.M_FLOOR."""
    m = {}
    for comp in spec.COMPARISONS:
        if comp.key not in spec.M_FROM_LABELLED:
            continue
        lv = labelled_levels[f"lvl_{comp.key}"].to_numpy()
        lv = lv[lv != NULL]
        n = len(comp.levels)
        counts = np.bincount(lv, minlength=n).astype(float) if len(lv) else np.ones(n)
        freq = np.maximum(counts / max(counts.sum(), 1.0), spec.M_FLOOR)
        freq = _with_fixed(comp, freq / freq.sum(), spec.M_FIXED_LABELLED_LEVELS)
        m[comp.key] = [float(x) for x in freq]
    return m


def _initial_m(comp: spec.Comparison) -> list[float]:
    """Start EM where matches agree: the "else" level (last) starts near zero."""
    n = len(comp.levels)
    raw = np.array([1.0] * (n - 1) + [0.01])
    return list(raw / raw.sum())


def _constrained(comp: spec.Comparison, m: np.ndarray) -> list[float]:
    """Set the levels of spec.M_FIXED_LEVELS, scale the others to fill the rest."""
    fixed = spec.M_FIXED_LEVELS.get(comp.key, {})
    idx = {comp.level_index(k): v for k, v in fixed.items()}
    free = [i for i in range(len(m)) if i not in idx]
    out = np.zeros(len(m))
    for i, v in idx.items():
        out[i] = v
    rest = m[free].sum()
    out[free] = m[free] / rest * (1.0 - sum(idx.values())) if rest > 0 else (1.0 - sum(idx.values())) / len(free)
    return [float(x) for x in out]


def _name_tf(pairs: pl.DataFrame) -> np.ndarray | None:
    """Per pair, the term frequency that replaces u where a tf-level of the name holds."""
    if "tf_name_key" not in pairs.columns:
        return None
    lv = pairs[f"lvl_{spec.NAME.key}"].to_numpy()
    tf_key = pairs["tf_name_key"].fill_null(spec.TF_MINIMUM).to_numpy()
    tf_pinyin = pairs["tf_name_pinyin"].fill_null(spec.TF_MINIMUM).to_numpy()
    out = np.full(len(pairs), np.nan)
    for i, level in enumerate(spec.NAME.levels):
        if level.tf:
            out = np.where(lv == i, tf_pinyin if level.key == "pinyin" else tf_key, out)
    return np.maximum(out, spec.TF_MINIMUM)


def estimate_m(
    candidates: pl.DataFrame, u: dict[str, list[float]], fixed_m: dict[str, list[float]]
) -> tuple[float, dict, int, bool]:
    """EM on the candidate pairs: u and `fixed_m` held fixed (u of an agreeing name replaced by
    its term frequency, as in scoring), the other comparisons' m and the match share estimated.
    Returns (match share, m, iterations, converged: the last step moved less than EM_TOLERANCE)."""
    levels = [candidates[f"lvl_{comp.key}"].to_numpy() for comp in spec.COMPARISONS]
    tf = _name_tf(candidates)
    n = len(candidates)
    lam = 0.3
    m = {
        comp.key: fixed_m.get(comp.key) or _constrained(comp, np.asarray(_initial_m(comp)))
        for comp in spec.COMPARISONS
    }
    # u is fixed: its log-likelihood per pair is computed once.
    log_u = np.zeros(n)
    for comp, lv in zip(spec.COMPARISONS, levels):
        uk = np.log(np.asarray(u[comp.key]))
        ok = lv != NULL
        term = np.zeros(n)
        term[ok] = uk[lv[ok]]
        if comp.key == spec.NAME.key and tf is not None:
            term = np.where(np.isnan(tf), term, np.log(np.nan_to_num(tf, nan=1.0)))
        log_u += term
    iterations, converged = 0, n == 0
    for iterations in range(1, spec.EM_ITERATIONS + 1):
        log_m = np.zeros(n)
        for comp, lv in zip(spec.COMPARISONS, levels):
            mk = np.log(np.maximum(np.asarray(m[comp.key]), 1e-12))
            ok = lv != NULL
            log_m[ok] += mk[lv[ok]]
        a = math.log(lam) + log_m
        b = math.log(1 - lam) + log_u
        post = 1.0 / (1.0 + np.exp(np.clip(b - a, -700, 700)))
        new_lam = float(np.clip(post.mean() if n else lam, 1e-6, 1 - 1e-6))
        new_m = {}
        for comp, lv in zip(spec.COMPARISONS, levels):
            if comp.key in fixed_m:
                new_m[comp.key] = m[comp.key]
                continue
            ok = lv != NULL
            sums = np.bincount(lv[ok], weights=post[ok], minlength=len(comp.levels))
            total = sums.sum()
            if total <= 0:
                new_m[comp.key] = m[comp.key]
            else:
                new_m[comp.key] = _constrained(comp, np.maximum(sums / total, spec.M_FLOOR))
        delta = max(
            abs(new_lam - lam),
            *(max(abs(x - y) for x, y in zip(new_m[k], m[k])) for k in m),
        )
        lam, m = new_lam, new_m
        if delta < spec.EM_TOLERANCE:
            converged = True
            break
    return lam, {k: [float(x) for x in v] for k, v in m.items()}, iterations, converged


def train(
    candidate_levels: pl.DataFrame,
    random_levels: pl.DataFrame,
    labelled_levels: pl.DataFrame,
    matches_per_record: float,
    trained_on: dict,
    u_exact: dict[str, list[float]] | None = None,
) -> Model:
    """`u_exact`: comparisons whose u is computed from value frequencies (it replaces the random
    pairs' estimate)."""
    u = {**estimate_u(random_levels), **(u_exact or {})}
    fixed = estimate_m_labelled(labelled_levels)
    lam, m, iterations, converged = estimate_m(candidate_levels, u, fixed)
    info = dict(trained_on)
    info.update(
        candidate_pairs=len(candidate_levels),
        random_pairs=len(random_levels),
        labelled_pairs=len(labelled_levels),
        em_iterations=iterations,
        em_converged=converged,
        em_candidate_match_share=round(lam, 6),
    )
    return Model(matches_per_record, m, u, spec.MODEL_VERSION, info)

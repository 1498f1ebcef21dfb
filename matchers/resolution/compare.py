"""Stage 3a: the comparison level of every candidate pair, in batch.

Input: a polars frame with the profile columns of both sides, suffixed `_l` and `_r`.
Output: one Int8 column per comparison of `spec.COMPARISONS` (`lvl_<key>`), the index of the
level that holds, -1 where either side has no data (a null level weighs 0).
Edit distances come from rapidfuzz `process.cpdist` over whole arrays; Python maps only over the
unique name pairs that carry a wildcard.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA, Levenshtein

from matchers.resolution import spec

NULL = -1


def _cpdist(a: pl.Series, b: pl.Series, scorer, where: pl.Series | None = None) -> np.ndarray:
    """Distance per row where both sides are present, differ (equal: 0) and `where` holds;
    elsewhere a large distance. Only those rows become Python strings for rapidfuzz."""
    both = a.is_not_null() & b.is_not_null()
    out = np.where(both.to_numpy() & (a == b).fill_null(False).to_numpy(), 0, 99).astype(np.int32)
    mask = both & (a != b).fill_null(False)
    if where is not None:
        mask = mask & where
    mask_np = mask.to_numpy()
    if mask_np.any():
        # each distinct (a, b) once: many pairs repeat the same two names or IDs
        rows = pl.DataFrame({"a": a.filter(mask), "b": b.filter(mask)})
        uniq = rows.unique()
        dist = process.cpdist(uniq["a"].to_list(), uniq["b"].to_list(), scorer=scorer, workers=-1)
        out[mask_np] = rows.join(
            uniq.with_columns(d=pl.Series(dist)), on=["a", "b"], how="left", maintain_order="left"
        )["d"].to_numpy()
    return out


def _wildcard_compatible(a: str, b: str) -> bool:
    return len(a) == len(b) and all(x == y or x == "?" or y == "?" for x, y in zip(a, b))


def _level(conditions: list[tuple[pl.Expr, str]], comparison: spec.Comparison) -> pl.Expr:
    expr = pl.lit(NULL, dtype=pl.Int8)
    for cond, key in reversed(conditions):
        expr = pl.when(cond).then(pl.lit(comparison.level_index(key), dtype=pl.Int8)).otherwise(expr)
    return expr


def compare_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """Add one `lvl_<key>` column per comparison of `spec.COMPARISONS` to `pairs`.

    Besides both sides' profile columns, `pairs` carries the household inputs of the node pair:
    `hh_context` (both sides have one), `hh_related`, `hh_same_roll`, `hh_shared` (see sql_text.PAIR_HOUSEHOLD),
    and the settlement inputs `diag_in_l`, `diag_in_r`, `meds_l`, `meds_r` (sql_text.PAIR_ATTRIBUTES).
    """
    id_dist = _cpdist(pairs["id17_l"], pairs["id17_r"], Levenshtein.distance)
    # an adjacent transposition is Levenshtein 2, OSA 1
    id_osa = _cpdist(pairs["id17_l"], pairs["id17_r"], OSA.distance, pl.Series(id_dist == 2))
    name_dist = _cpdist(pairs["name_key_l"], pairs["name_key_r"], Levenshtein.distance)

    # Wildcard names ('?' for an unencodable character): map over unique pairs only.
    wild = pairs.select(
        pl.col("name_key_l").alias("a"), pl.col("name_key_r").alias("b")
    ).with_columns(
        has=(pl.col("a").str.contains("?", literal=True) | pl.col("b").str.contains("?", literal=True))
        .fill_null(False)
    )
    uniq = wild.filter("has").unique(["a", "b"])
    wild_ok = np.zeros(len(pairs), dtype=bool)
    if len(uniq):
        ok = [_wildcard_compatible(a, b) for a, b in zip(uniq["a"].to_list(), uniq["b"].to_list())]
        has = wild["has"].to_numpy()
        wild_ok[has] = (
            wild.filter("has")
            .join(uniq.select("a", "b", ok=pl.Series(ok, dtype=pl.Boolean)), on=["a", "b"], how="left",
                  maintain_order="left")["ok"]
            .to_numpy()
        )

    df = pairs.with_columns(
        _id_dist=pl.Series(id_dist),
        _id_osa=pl.Series(id_osa),
        _name_dist=pl.Series(name_dist),
        _wild=pl.Series(wild_ok),
    )
    c = pl.col
    digits_l = pl.coalesce(c("id17_l"), c("id_prefix_l"))
    digits_r = pl.coalesce(c("id17_r"), c("id_prefix_r"))
    has_prefix = c("id_prefix_l").is_not_null() | c("id_prefix_r").is_not_null()
    prefix_ok = (
        digits_l.str.starts_with(digits_r) | digits_r.str.starts_with(digits_l)
    ).fill_null(False)
    both_digits = digits_l.is_not_null() & digits_r.is_not_null()
    id_level = _level(
        [
            (c("id17_l").is_not_null() & (c("_id_dist") == 0), "exact"),
            (c("id17_l").is_not_null() & (c("_id_dist") == 1), "one_substitution"),
            (c("id17_l").is_not_null() & (c("_id_osa") == 1), "one_transposition"),
            (c("id17_l").is_not_null() & c("id17_r").is_not_null(), "else"),
        ],
        spec.ID,
    )
    id_prefix_level = _level(
        [(both_digits & has_prefix & prefix_ok, "agree"), (both_digits & has_prefix, "else")], spec.ID_PREFIX
    )
    both_names = c("name_key_l").is_not_null() & c("name_key_r").is_not_null()
    name_level = _level(
        [
            (both_names & (c("name_norm_l") == c("name_norm_r")), "exact"),
            (both_names & (c("name_key_l") == c("name_key_r")), "simplified"),
            (both_names & (c("name_pinyin_l") == c("name_pinyin_r")).fill_null(False), "pinyin"),
            (both_names & c("_wild"), "wildcard"),
            (both_names & (c("_name_dist") == 1) & (c("name_key_l").str.len_chars() >= 2), "one_char"),
            (both_names, "else"),
        ],
        spec.NAME,
    )
    df = df.with_columns(lvl_id=id_level, lvl_id_prefix=id_prefix_level, lvl_name=name_level)
    # Birth date and sex derived from an ID are not independent of the ID comparison.
    no_id = c("lvl_id") == NULL
    both_birth = no_id & c("birth_l").is_not_null() & c("birth_r").is_not_null()
    birth_level = _level(
        [
            (both_birth & (c("birth_l") == c("birth_r")), "exact"),
            (both_birth & (c("birth_l").dt.year() == c("birth_r").dt.year()), "same_year"),
            (both_birth, "else"),
        ],
        spec.BIRTH,
    )
    both_sex = no_id & c("sex_l").is_not_null() & c("sex_r").is_not_null()
    sex_level = _level(
        [(both_sex & (c("sex_l") == c("sex_r")), "exact"), (both_sex, "else")], spec.SEX
    )
    both_district = c("district_l").is_not_null() & c("district_r").is_not_null()
    district_level = _level(
        [(both_district & (c("district_l") == c("district_r")), "exact"), (both_district, "else")],
        spec.DISTRICT,
    )
    # Street and community only within one district (their u is conditional on it).
    both_street = (c("district_l") == c("district_r")).fill_null(False) & c("street_l").is_not_null() & c(
        "street_r"
    ).is_not_null()
    address_level = _level(
        [
            (both_street & (c("street_l") == c("street_r")) & (c("community_l") == c("community_r")).fill_null(False),
             "community"),
            (both_street & (c("street_l") == c("street_r")), "street"),
            (both_street, "else"),
        ],
        spec.ADDRESS,
    )
    # A settlement on one side against the other side's whole node (sql_text.NODE_DIAGNOSES):
    # diag_in_r = the left settlement's illness is among the right node's; meds_r = the right node
    # has settlements at all (null: not known, the comparison stays null), and the other way round.
    med_l, med_r = c("diagnosis_l").is_not_null(), c("diagnosis_r").is_not_null()
    diag_in_l, diag_in_r = c("diag_in_l").fill_null(False), c("diag_in_r").fill_null(False)
    diagnosis_level = _level(
        [
            ((med_l & diag_in_r) | (med_r & diag_in_l), "exact"),
            (((med_l & c("meds_r")) | (med_r & c("meds_l"))).fill_null(False), "else"),
            (((med_l & ~c("meds_r")) | (med_r & ~c("meds_l"))).fill_null(False), "none"),
        ],
        spec.DIAGNOSIS,
    )
    context = c("hh_context").fill_null(False)
    household_level = _level(
        [
            (context & c("hh_related").fill_null(False), "related"),
            (context & c("hh_same_roll").fill_null(False), "same_roll"),
            (context & (c("hh_shared").fill_null(0) >= 2), "shared_2"),
            (context & (c("hh_shared").fill_null(0) == 1), "shared_1"),
            (context, "none"),
        ],
        spec.HOUSEHOLD,
    )
    return df.with_columns(
        lvl_birth=birth_level, lvl_sex=sex_level, lvl_district=district_level, lvl_address=address_level,
        lvl_diagnosis=diagnosis_level, lvl_household=household_level,
    ).drop("_id_dist", "_id_osa", "_name_dist", "_wild")


LEVEL_COLUMNS = tuple(f"lvl_{comp.key}" for comp in spec.COMPARISONS)

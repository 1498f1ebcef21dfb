"""Guardians named on education rows without a valid guardian ID, resolved with the model in force
like any other row: the guardian's name (weighted by its frequency among the quarter's persons),
the student's district, what the guardian ID column still shows (an ID with a bad check digit, the
digits an Excel truncation kept) and the student's rolls (a candidate on a roll with the student
shares that co-member with the guardian; its weight adjusted by how few persons share the student's
rolls) are compared with every person of the quarter bearing the
name (same simplified key or same pinyin).

A guardian goes to a person only when that person's posterior among all the candidates reaches
spec.GUARDIAN_LINK_PROBABILITY: 2^w_k / (1 + Σ_j 2^w_j), w the pair's match weight (model prior +
level weights), the 1 standing for "none of them". Two persons of the district sharing the name
split the posterior, so name and district alone never choose between namesakes.

Input: work_source_records of the quarter (the resolved rows). Output: the temp table
res_guardian_links (student_pid, guardian_pid) sql_text.HOUSEHOLD_MEMBERS reads.
"""

from __future__ import annotations

import math

import duckdb
import polars as pl

from matchers import warehouse
from matchers.id_columns import normalise_id_column
from matchers.ids import KIND_BAD_CHECK, KIND_TRUNCATED
from matchers.names import normalise_name_column
from matchers.resolution import spec, sql_text
from matchers.resolution.compare import compare_pairs
from matchers.resolution.model import Model

LINKS_TABLE = "res_guardian_links"

_GUARDIANS = """
SELECT rowid AS g, person_id AS student_pid, guardian_name_norm, guardian_id, district
FROM work_source_records
WHERE quarter = $quarter AND source = 'education' AND guardian_id_norm IS NULL
  AND guardian_name_norm IS NOT NULL AND person_id IS NOT NULL
"""

# one profile per distinct (person, name, district, ID digits) of the quarter's rows
_PERSON_PROFILES = f"""
SELECT DISTINCT person_id, name_norm, name_key, name_pinyin, district,
       {sql_text.row_id17()} AS id17, {sql_text.row_id_prefix()} AS id_prefix
FROM work_source_records
WHERE quarter = $quarter AND person_id IS NOT NULL AND name_key IS NOT NULL
"""

_ROLLS = """
SELECT DISTINCT person_id, source || ':' || household_id AS household_key
FROM work_source_records
WHERE quarter = $quarter AND source IN ('assistance', 'poverty') AND household_id IS NOT NULL
"""


def _guardian_profiles(guardians: pl.DataFrame) -> pl.DataFrame:
    """The guardian side: name columns from the guardian's name, ID digits from its ID column."""
    names = normalise_name_column(guardians["guardian_name_norm"])
    ids = normalise_id_column(guardians["guardian_id"].cast(pl.String))
    kind, evidence = ids["id_kind"], ids["id_evidence"]
    return guardians.select("g", "student_pid", "district").with_columns(
        names.select("name_norm", "name_key", "name_pinyin"),
        id17=pl.when((kind == KIND_BAD_CHECK) & (evidence.str.len_chars() == 17)).then(evidence),
        id_prefix=pl.when((kind == KIND_TRUNCATED) & (evidence.str.len_chars() >= 6)).then(evidence),
    )


def _candidate_pairs(guardians: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    """Guardian × person profile pairs blocked on the simplified name or its pinyin, suffixed _l/_r."""
    left = guardians.rename({c: f"{c}_l" for c in guardians.columns if c not in ("g", "student_pid")})
    right = persons.rename({c: f"{c}_r" for c in persons.columns if c != "person_id"})
    pairs = pl.concat([
        left.join(right, left_on="name_key_l", right_on="name_key_r", how="inner", coalesce=False),
        left.join(right, left_on="name_pinyin_l", right_on="name_pinyin_r", how="inner", coalesce=False),
    ]).unique(["g", "person_id", "name_norm_r", "district_r", "id17_r", "id_prefix_r"])
    return pairs.filter(pl.col("person_id") != pl.col("student_pid"))


def roll_companions(con: duckdb.DuckDBPyConnection, quarter: str) -> pl.DataFrame:
    """(person_id, student_pid) pairs listed on one roll, with the household inputs of a guardian
    pair: the guardian's one known co-member is the student, so a candidate on a roll with the
    student shares one co-member with the guardian (level shared_1). A candidate whose rolls do not
    list the student is left without household evidence rather than given the "none" level: a
    student off the guardian's roll is the very case the guardian link is for."""
    rolls = con.sql(_ROLLS, params={"quarter": quarter}).pl()
    together = (
        rolls.join(rolls.rename({"person_id": "student_pid"}), on="household_key")
        .filter(pl.col("person_id") != pl.col("student_pid"))
        .select("person_id", "student_pid").unique()
    )
    return together.with_columns(
        hh_context=pl.lit(True), hh_shared=pl.lit(1, dtype=pl.Int64),
        hh_companions=pl.len().over("student_pid"),
    )


def with_roll_frequency(scored: pl.DataFrame, model: Model, n_persons: int) -> pl.DataFrame:
    """The shared-roll weight adjusted like a name's by its frequency: a person other than the
    guardian is on the student's rolls with probability (the student's roll companions) / (the
    quarter's persons), which replaces the model's u of shared_1 where it is smaller. The model's
    is a fixed, conservative 1 in 1,000 that does not shrink as the quarter grows while the
    namesakes it must beat multiply; it stays the bound in a quarter too small for the frequency
    to mean anything."""
    level = spec.HOUSEHOLD.level_index("shared_1")
    u_model = max(model.u[spec.HOUSEHOLD.key][level], spec.U_FLOOR)
    u_roll = (pl.col("hh_companions").cast(pl.Float64) / n_persons).clip(spec.U_FLOOR, u_model)
    adjust = pl.when(pl.col("lvl_household") == level).then((pl.lit(u_model) / u_roll).log(2)).otherwise(0.0)
    return scored.with_columns(match_weight=pl.col("match_weight") + adjust)


def _term_frequencies(persons: pl.DataFrame, pairs: pl.DataFrame, n_persons: int) -> pl.DataFrame:
    """tf_name_key / tf_name_pinyin: the share of the quarter's persons bearing the guardian's name."""
    out = pairs
    for col, tf in (("name_key", "tf_name_key"), ("name_pinyin", "tf_name_pinyin")):
        freq = persons.group_by(col).agg((pl.col("person_id").n_unique() / n_persons).alias(tf))
        out = out.join(freq.rename({col: f"{col}_l"}), on=f"{col}_l", how="left")
    return out


_ABSENT = {  # what an education row does not say about its guardian
    "birth_l": pl.Date, "birth_r": pl.Date, "sex_l": pl.String, "sex_r": pl.String,
    "street_l": pl.String, "street_r": pl.String, "community_l": pl.String, "community_r": pl.String,
    "diagnosis_l": pl.String, "diagnosis_r": pl.String, "diag_in_l": pl.Boolean, "diag_in_r": pl.Boolean,
    "meds_l": pl.Boolean, "meds_r": pl.Boolean,
}


def best_guardians(scored: pl.DataFrame) -> pl.DataFrame:
    """Per guardian row, the candidate person whose posterior among all candidates reaches
    spec.GUARDIAN_LINK_PROBABILITY (columns g, student_pid, guardian_pid, posterior)."""
    per_person = scored.group_by("g", "student_pid", "person_id").agg(pl.col("match_weight").max())
    w = pl.col("match_weight")
    top = w.max().over("g")
    # 2^w_k / (1 + Σ 2^w_j), computed relative to the best weight so that no power overflows
    rel = ((w - top) * math.log(2)).exp()
    posterior = rel / ((-top * math.log(2)).exp() + rel.sum().over("g"))
    return (
        per_person.with_columns(posterior=posterior)
        .filter((pl.col("posterior") >= spec.GUARDIAN_LINK_PROBABILITY) & (w == top))
        .select("g", "student_pid", pl.col("person_id").alias("guardian_pid"), "posterior")
    )


def link_guardians(con: duckdb.DuckDBPyConnection, quarter: str, model: Model) -> int:
    """Fill res_guardian_links for the quarter's guardians without a valid ID; returns its rows.
    Guardians are scored spec.GUARDIAN_CHUNK at a time (a guardian's candidates all in one batch)."""
    guardians = con.sql(_GUARDIANS, params={"quarter": quarter}).pl()
    found = [pl.DataFrame(schema={"student_pid": pl.String, "guardian_pid": pl.String})]
    if guardians.height:
        persons = con.sql(_PERSON_PROFILES, params={"quarter": quarter}).pl()
        n_persons = max(persons["person_id"].n_unique(), 1)
        companions = roll_companions(con, quarter)
        profiles = _guardian_profiles(guardians)
        for start in range(0, profiles.height, spec.GUARDIAN_CHUNK):
            pairs = _candidate_pairs(profiles.slice(start, spec.GUARDIAN_CHUNK), persons)
            if not pairs.height:
                continue
            pairs = pairs.join(companions, on=["person_id", "student_pid"], how="left").with_columns(
                hh_related=pl.lit(False), hh_same_roll=pl.lit(False),
                *[pl.lit(None, dtype=t).alias(c) for c, t in _ABSENT.items()],
            )
            scored = model.score(compare_pairs(_term_frequencies(persons, pairs, n_persons)), n_persons)
            scored = with_roll_frequency(scored, model, n_persons)
            found.append(best_guardians(scored).select("student_pid", "guardian_pid"))
    links = pl.concat(found).unique()
    warehouse.temp_table(con, LINKS_TABLE, links)
    return links.height

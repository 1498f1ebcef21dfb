"""The match model each full run estimates on its own quarter: the fallback to the shipped model and
its Chinese reason, the model kept with the quarter, and what the estimate links that the shipped
model does not on data unlike the sample."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import polars as pl
import pytest

from bench.synth_resolution import generate, load_into
from matchers import warehouse
from matchers.resolution import model_store, spec, training
from matchers.resolution.model import Model
from matchers.resolution.resolve import DEFAULT_MODEL_PATH, resolve_quarter
from test_resolution import A_ID, KEY, background, con, load, row  # noqa: F401 (fixture)

Q = "2026Q3"


def _shipped() -> Model:
    return Model.load(DEFAULT_MODEL_PATH)


def test_tiny_quarter_falls_back_to_the_shipped_model_and_says_why(con):
    load(con, background() + [row("assistance", 1, "欧阳翠花", id_norm=A_ID),
                               row("poverty", 1, "欧阳翠花", id_norm=A_ID)])
    counts = resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert counts["model_fallback"] is True
    assert "改用随程序提供的默认模型" in counts["model_message"]
    assert "「姓名」1 对(至少需要 200 对)" in counts["model_message"]
    assert counts["model_sha256"] == _shipped().sha256()
    fallback, reason = con.execute(
        "SELECT fallback, fallback_reason FROM match_models WHERE quarter = ?", [Q]
    ).fetchall()[0]
    assert fallback and "至少需要" in reason


@pytest.fixture(scope="module")
def unlike_sample(tmp_path_factory):
    """A quarter of bench.synth_resolution (other name pools, no streets or settlements, another
    household mix), resolved with its own estimate and with the shipped model."""
    records = generate(2000, seed=11)
    out = {}
    for name in ("estimated", "shipped"):
        c = warehouse.connect(tmp_path_factory.mktemp(name) / "warehouse.duckdb")
        load_into(c, records)
        counts = resolve_quarter(c, Q, model_path=DEFAULT_MODEL_PATH, key=KEY,
                                 model=_shipped() if name == "shipped" else None)
        got = c.sql("SELECT source, source_row, person_id, id_norm, match_method FROM work_source_records").pl()
        stored = c.execute("SELECT model_sha256, model_json, evidence FROM match_models").fetchall()
        weights = c.sql("SELECT * FROM match_model_weights").pl()
        c.close()
        truth = records.select("source", "source_row", "person_key")
        out[name] = {"counts": counts, "rows": truth.join(got, on=["source", "source_row"]),
                     "stored": stored, "weights": weights}
    return out


def _reaches_person(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows without a valid ID, with whether they share person_id with a row of their true person
    that carries a valid ID."""
    anchors = rows.filter(pl.col("id_norm").is_not_null()).select("person_key", "person_id").unique()
    idless = rows.filter(pl.col("id_norm").is_null())
    hit = idless.join(anchors, on=["person_key", "person_id"], how="semi").select("source", "source_row")
    return idless.with_columns(
        reached=pl.struct("source", "source_row").is_in(hit.select(pl.struct("source", "source_row")).to_series())
    )


def test_quarter_unlike_the_sample_links_idless_rows_the_shipped_model_would_not(unlike_sample):
    est, shipped = unlike_sample["estimated"], unlike_sample["shipped"]
    assert est["counts"]["model_fallback"] is False, est["counts"]["model_message"]
    assert est["counts"]["model_sha256"] != shipped["counts"]["model_sha256"]
    e = _reaches_person(est["rows"]).select("source", "source_row", "reached", "match_method")
    s = _reaches_person(shipped["rows"]).select("source", "source_row", pl.col("reached").alias("reached_shipped"))
    both = e.join(s, on=["source", "source_row"])
    gained = both.filter(pl.col("reached") & ~pl.col("reached_shipped"))
    lost = both.filter(~pl.col("reached") & pl.col("reached_shipped"))
    print("gained", gained.height, "lost", lost.height)
    assert gained.height > 2 * lost.height and gained.height >= 5, (gained.height, lost.height)
    assert set(gained["match_method"]) <= {spec.METHOD_PROBABILISTIC, spec.METHOD_REVIEW}


def test_a_comparison_the_quarter_does_not_carry_keeps_the_shipped_weights(unlike_sample):
    est = unlike_sample["estimated"]
    evidence = est["counts"]["model_evidence"]
    assert {"address", "diagnosis"} <= set(evidence["borrowed_from_fallback"])
    assert "沿用默认模型的权重" in est["counts"]["model_message"]
    model, shipped = Model.from_json(est["stored"][0][1]), _shipped()
    assert model.m["address"] == shipped.m["address"] and model.u["diagnosis"] == shipped.u["diagnosis"]
    assert model.m["name"] != shipped.m["name"]


def test_the_model_in_force_is_kept_with_the_quarter(unlike_sample):
    est = unlike_sample["estimated"]
    ((sha, text, evidence),) = est["stored"]
    model = Model.from_json(text)
    assert sha == model.sha256() == est["counts"]["model_sha256"]
    assert json.loads(evidence)["labelled_pairs_per_comparison"]["name"] >= spec.MIN_LABELLED_PAIRS_DEFAULT
    w = est["weights"]
    assert w.height == sum(len(c.levels) for c in spec.COMPARISONS)
    name_exact = w.filter((pl.col("comparison") == "name") & (pl.col("level") == "exact"))
    assert name_exact["weight"].item() == pytest.approx(model.level_weights(spec.NAME)[0])


def test_full_rerun_of_the_same_rows_estimates_the_same_model(con):
    load_into(con, generate(300, seed=5))
    first = resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    again = resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert first["model_fallback"] is False, first["model_message"]
    assert first["model_sha256"] == again["model_sha256"]
    assert con.execute("SELECT count(*) FROM match_models").fetchall()[0][0] == 1
    assert model_store.load(con, Q, first["model_sha256"]).sha256() == first["model_sha256"]


def test_estimate_with_an_agreeing_level_below_its_u_is_implausible():
    shipped = _shipped()
    bad = Model.from_json(shipped.to_json())
    bad.m["district"] = [0.05, 0.95]  # agreeing on the district would be evidence of two people
    bad.trained_on["em_converged"] = True
    reasons = training.implausibilities(bad, shipped)
    assert any("「所在区相同」的 m(0.0500)小于 u" in r for r in reasons)


def test_estimate_whose_em_did_not_converge_or_whose_weight_moved_far_is_implausible():
    shipped = _shipped()
    moved = Model.from_json(shipped.to_json())
    moved.u["sex"] = list(np.array([1e-5, 1 - 1e-5]))  # +16 bits for agreeing on sex
    moved.trained_on["em_converged"] = False
    reasons = training.implausibilities(moved, shipped)
    assert any("未收敛" in r for r in reasons)
    assert any("「性别相同」的权重" in r and "相差超过 10" in r for r in reasons)
    shipped.trained_on["em_converged"] = True
    assert training.implausibilities(shipped, shipped) == []


def test_birth_u_is_the_share_of_distinct_profile_pairs_born_the_same_day_or_year():
    c = duckdb.connect()
    c.execute("CREATE TEMP TABLE res_profiles AS SELECT * FROM (VALUES "
              "(DATE '1980-01-01'), (DATE '1980-01-01'), (DATE '1990-02-02'), (DATE '1990-03-03'), (NULL)) t(birth)")
    u = training.birth_u(c)["birth"]
    assert u == pytest.approx([2 / 12, 2 / 12, 8 / 12])

"""Splink side by side: the same normalised rows, resolved by Splink (DuckDB backend, set up as a
careful user would) and by `matchers.resolution`, scored against the same truth.

    python -m bench.splink_compare                    # the committed sample, quarter 2026Q3
    python -m bench.splink_compare --households 5000  # a freshly generated set

Splink is in the optional `bench` extra (`uv sync --extra bench`); runtime code never imports it.
Splink gets the rows exactly as our stage sees them (normalised names, pinyin, valid ID or the
17 digits of a failed-check ID, birth date, sex, district) and the careful user's model: ID by
Damerau-Levenshtein (one typo or transposition), name exact with term-frequency adjustment /
pinyin / one character, birth date, sex, district; deterministic ID rule for the prior, u by
random sampling, m by EM on two blocking rules; predictions blocked like ours; clusters at 0.95.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import polars as pl

from bench.quality import KEY, pairwise_scores
from matchers import warehouse
from matchers.contract import SOURCES
from matchers.resolution import resolve_quarter
from matchers.resolution.resolve import model_path

ROOT = Path(__file__).resolve().parent.parent
SPLINK_INPUT = """
SELECT row_number() OVER (ORDER BY source, source_file, source_row) AS unique_id,
       source, source_file, source_row,
       id_norm,
       CASE WHEN id_norm IS NOT NULL THEN substr(id_norm, 1, 17)
            WHEN id_kind = 'bad_check' THEN id_evidence END AS id17,
       name_key, name_pinyin, surname_pinyin,
       CAST(coalesce(id_birth_date,
                     CASE WHEN id_kind = 'bad_check'
                          THEN try_strptime(substr(id_evidence, 7, 8), '%Y%m%d')::DATE END) AS VARCHAR) AS birth,
       coalesce(sex, id_sex) AS sex, district
FROM stg_records WHERE quarter = ?
"""


def run_splink(rows: pl.DataFrame) -> tuple[pl.DataFrame, float]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    t = time.perf_counter()
    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name_key"),
            cll.ExactMatchLevel("name_key").configure(tf_adjustment_column="name_key"),
            cll.ExactMatchLevel("name_pinyin"),
            cll.LevenshteinLevel("name_key", 1),
            cll.ElseLevel(),
        ],
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.DamerauLevenshteinAtThresholds("id17", [1]),
            name,
            cl.ExactMatch("birth"),
            cl.ExactMatch("sex"),
            cl.ExactMatch("district"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("substr(id17, 1, 14)"),
            block_on("substr(id17, 7, 11)"),
            block_on("substr(id17, 1, 6)", "substr(id17, 15, 3)"),
            block_on("name_key", "district"),
            block_on("name_pinyin", "birth"),
            block_on("surname_pinyin", "birth"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    sdf = db_api.register(rows.drop("source", "source_file", "source_row").to_pandas())
    linker = Linker(sdf, settings, log_level=30)
    linker.training.estimate_probability_two_random_records_match([block_on("id_norm")], recall=0.9)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name_key", "district"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("substr(id17, 1, 14)"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.95)
    out = pl.from_pandas(clusters.as_pandas_dataframe()[["unique_id", "cluster_id"]])
    seconds = time.perf_counter() - t
    got = rows.select("unique_id", *KEY).join(out, on="unique_id").rename({"cluster_id": "person_id"})
    return got.with_columns(pl.col("person_id").cast(pl.String)), seconds


def compare(extracts: Path, truth_dir: Path, quarter: str) -> dict:
    from assets.extracts import load_source

    tmp = Path(tempfile.mkdtemp(prefix="splink_"))
    con = warehouse.connect(tmp / "warehouse.duckdb")
    for source in SOURCES:
        try:
            load_source(con, str(extracts), quarter, source)
        except Exception:  # a source may be missing in a quarter
            pass
    truth = pl.read_csv(truth_dir / quarter / "records.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int32)
    ).filter(pl.col("expected") == "accepted")
    t = time.perf_counter()
    resolve_quarter(con, quarter, model_path=model_path(), key=b"splink-compare")
    ours_seconds = time.perf_counter() - t
    ours = con.sql("SELECT source, source_file, source_row, person_id FROM work_source_records").pl()
    rows = con.sql(SPLINK_INPUT, params=[quarter]).pl()
    con.close()
    theirs, splink_seconds = run_splink(rows)
    return {
        "quarter": quarter,
        "ours": {"seconds": round(ours_seconds, 2), **pairwise_scores(truth.join(ours, on=KEY))},
        "splink": {"seconds": round(splink_seconds, 2), **pairwise_scores(truth.join(theirs, on=KEY))},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="与 Splink 对比人员匹配质量与耗时")
    ap.add_argument("--households", type=int)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--quarter", default="2026Q3")
    args = ap.parse_args(argv)
    if args.households:
        from sample_data.generate import generate

        out = Path(tempfile.mkdtemp(prefix="generated_"))
        generate(out, args.households, args.seed, ["2026Q2", "2026Q3"], log=lambda *a, **k: None)
        report = compare(out / "extracts", out / "truth", args.quarter)
    else:
        report = compare(ROOT / "sample_data" / "extracts", ROOT / "sample_data" / "truth", args.quarter)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Score person resolution against the generator's ground truth.

    python -m bench.quality                       # the committed sample (sample_data/)
    python -m bench.quality --households 5000     # a freshly generated set (sample_data.generate)
    python -m bench.quality --synthetic 20000     # bench.synth_resolution rows (no files), any scale
    python -m bench.quality --retrain             # train on the data scored (else the saved model)
    python -m bench.quality --retrain --save-model matchers/resolution/person_model.json
                                                  # the committed default: trained on the sample
    python -m bench.quality --suite               # sample, city2 at 5,000 and 100,000, rules and
                                                  # Splink: the tables of docs/quality.md

Loads every quarter of the extracts into a fresh warehouse (the ingestion assets' code), resolves
the quarters in order, publishing each (so later quarters see earlier persons, as in production),
and reports per quarter: pairwise precision and recall of the clustering over accepted rows (pairs
of rows sharing person_id vs pairs sharing person_key), wrongly rejected rows (truth accepted, in
rejected_rows), rows per match_method, time. `--json` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

from matchers import warehouse
from matchers.contract import SOURCES
from matchers.resolution import resolve_quarter, train_model
from matchers.resolution.resolve import model_path as default_model_path

ROOT = Path(__file__).resolve().parent.parent
KEY = ["source", "source_file", "source_row"]
# Generator damage labels (sample_data/truth/README.md) of rows with no usable ID (RULES.md) and of
# rows whose ID has one damaged digit (a mistyped digit, or a wrong check character).
NO_USABLE_ID_LABELS = ("id_missing", "id_excel_scientific", "student_number_J", "student_number_L")
ONE_DAMAGED_DIGIT_LABELS = ("id_mistyped_digit", "id_wrong_check")


def pairwise_scores(frame: pl.DataFrame, predicted: str = "person_id", truth: str = "person_key") -> dict:
    """Pairwise precision/recall: pairs of rows in one predicted cluster vs in one true person."""

    def pairs(cols: list[str]) -> int:
        return int(
            frame.group_by(cols).len().select(((pl.col("len") * (pl.col("len") - 1)) // 2).sum()).item() or 0
        )

    both, pred, true = pairs([predicted, truth]), pairs([predicted]), pairs([truth])
    return {
        "rows": frame.height,
        "true_pairs": true,
        "predicted_pairs": pred,
        "correct_pairs": both,
        "precision": round(both / pred, 6) if pred else 1.0,
        "recall": round(both / true, 6) if true else 1.0,
    }


def score_quarter(con, truth_dir: Path, quarter: str) -> dict:
    truth = pl.read_csv(truth_dir / quarter / "records.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int32)
    )
    got = con.sql(
        "SELECT source, source_file, source_row, person_id, match_method FROM work_source_records WHERE quarter = ?",
        params=[quarter],
    ).pl()
    accepted = truth.filter(pl.col("expected") == "accepted")
    joined = accepted.join(got, on=KEY, how="inner")
    scores = pairwise_scores(joined)
    rejected = con.sql(
        "SELECT source, source_file, source_row FROM stg_rejected WHERE quarter = ?", params=[quarter]
    ).pl()
    scores["wrongly_rejected"] = accepted.join(rejected, on=KEY, how="inner").height
    scores["accepted_rows_missing"] = accepted.height - joined.height
    scores["by_corruption"] = _recall_by_corruption(joined)
    scores.update(damaged_rows_on_their_person(joined))
    return scores


def damaged_rows_on_their_person(joined: pl.DataFrame, predicted: str = "person_id") -> dict:
    """For rows with no usable ID and rows with one damaged ID digit: how many there are and the
    share on their person, i.e. in the predicted cluster holding most of the true person's rows (a
    tie goes to the cluster holding more rows without ID damage, then the smallest id). Only rows
    whose true person has another row in the quarter count: a lone row has nobody to reach."""
    damage = pl.col("corruptions").fill_null("").str.contains("(^|;)(id_|cert_only|student_number)")
    held = (
        joined.group_by("person_key", predicted)
        .agg(pl.len().alias("n"), (~damage).sum().alias("clean"))
        .sort(["person_key", "n", "clean", predicted], descending=[False, True, True, False])
        .unique("person_key", keep="first", maintain_order=True)
        .select("person_key", pl.col(predicted).alias("main"))
    )
    rows = (
        joined.with_columns(pl.len().over("person_key").alias("person_rows"))
        .filter(pl.col("person_rows") > 1)
        .join(held, on="person_key")
        .with_columns(ok=pl.col(predicted) == pl.col("main"),
                      labels=pl.col("corruptions").fill_null("").str.split(";"))
    )
    out = {}
    for name, labels in (("no_usable_id", NO_USABLE_ID_LABELS), ("one_damaged_digit", ONE_DAMAGED_DIGIT_LABELS)):
        hit = rows.filter(pl.col("labels").list.eval(pl.element().is_in(labels)).list.any())
        out[name] = {"rows": hit.height, "on_their_person": round(hit["ok"].mean(), 4) if hit.height else None}
    return out


def _recall_by_corruption(joined: pl.DataFrame) -> dict:
    """Share of rows with each corruption that sit in their person's main cluster."""
    main = (
        joined.group_by("person_key", "person_id").len().sort("len", descending=True)
        .unique("person_key", keep="first").select("person_key", pl.col("person_id").alias("main"))
    )
    j = joined.join(main, on="person_key").with_columns(ok=pl.col("person_id") == pl.col("main"))
    ex = j.with_columns(c=pl.col("corruptions").fill_null("").str.split(";")).explode("c")
    ex = ex.filter(pl.col("c").str.starts_with("id_") | pl.col("c").str.contains("only|student"))
    out = ex.group_by("c").agg(pl.len().alias("rows"), pl.col("ok").mean().round(4).alias("in_main_cluster"))
    return {r["c"]: {"rows": r["rows"], "in_main_cluster": r["in_main_cluster"]} for r in out.iter_rows(named=True)}


def run_extracts(extracts: Path, truth: Path, retrain: bool, model: Path | None, rules: bool = False) -> dict:
    """rules: also run the rules on each quarter before publishing it (for bench.rule_quality);
    the report's `warehouse` names the warehouse left behind."""
    from assets.extracts import load_source  # the ingestion code the assets run
    from matchers.rules.config import load_config
    from matchers.rules.engine import run_rules

    quarters = sorted(p.name for p in extracts.iterdir() if p.is_dir())
    tmp = Path(tempfile.mkdtemp(prefix="quality_"))
    con = warehouse.connect(tmp / "warehouse.duckdb")
    report: dict = {"extracts": str(extracts), "quarters": {}}
    t0 = time.perf_counter()
    for q in quarters:
        for source in SOURCES:
            try:
                load_source(con, str(extracts), q, source)
            except Exception as exc:  # a missing source is allowed by the contract
                report.setdefault("load_notes", []).append(f"{q} {source}: {exc}")
    report["seconds_load"] = round(time.perf_counter() - t0, 2)
    model_file = _model(con, tmp, retrain, model)
    report["model"] = str(model_file)
    for q in quarters:
        t = time.perf_counter()
        counts = resolve_quarter(con, q, model_path=model_file, key=b"quality-bench")
        seconds = time.perf_counter() - t
        scores = score_quarter(con, truth, q)
        if rules:
            run_rules(con, q, load_config(), run_id=f"quality-{q}")
        warehouse.publish_quarter(con, q)
        report["quarters"][q] = {"seconds_resolve": round(seconds, 2), **scores, "run": _short(counts)}
    con.close()
    report["warehouse"] = str(tmp / "warehouse.duckdb")
    return report


def run_synthetic(n_households: int, retrain: bool, model: Path | None) -> dict:
    from bench.synth_resolution import generate, load_into

    tmp = Path(tempfile.mkdtemp(prefix="quality_"))
    con = warehouse.connect(tmp / "warehouse.duckdb")
    records = generate(n_households)
    load_into(con, records)
    model_file = _model(con, tmp, retrain, model)
    t = time.perf_counter()
    counts = resolve_quarter(con, "2026Q3", model_path=model_file, key=b"quality-bench")
    seconds = time.perf_counter() - t
    got = con.sql("SELECT source, source_row, person_id FROM work_source_records").pl()
    joined = records.select("source", "source_row", "person_key").join(got, on=["source", "source_row"])
    con.close()
    return {"synthetic_households": n_households, "model": str(model_file), "quarters": {
        "2026Q3": {"seconds_resolve": round(seconds, 2), **pairwise_scores(joined), "run": _short(counts)}
    }}


def _model(con, tmp: Path, retrain: bool, model: Path | None) -> Path:
    if not retrain:
        return model or default_model_path()
    path = tmp / "person_model.json"
    train_model(con).save(path)
    return path


def _short(counts: dict) -> dict:
    keep = ("rows", "persons", "match_methods", "review_band", "candidate_pairs", "links_cut_by_guard",
            "oversized_blocks", "seconds_total")
    return {k: counts[k] for k in keep if k in counts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="人员匹配质量评估(对照生成器的标准答案)")
    ap.add_argument("--households", type=int, help="用 sample_data.generate 生成该户数的数据后评估")
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--synthetic", type=int, help="用 bench.synth_resolution 直接生成 stg_records 评估")
    ap.add_argument("--retrain", action="store_true", help="在被评估数据上重新训练模型")
    ap.add_argument("--model", type=Path, help="模型文件(默认 PERSON_MODEL_PATH 或仓库内默认模型)")
    ap.add_argument("--save-model", type=Path, help="with --retrain: keep the trained model here")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--population", default="default", help="与 --households 同用: 生成器的人口设定(如 city2)")
    ap.add_argument("--suite", action="store_true",
                    help="样例与 city2 各规模: 人员匹配、规则与 Splink 对照,输出 markdown 表格")
    ap.add_argument("--sizes", default=None, help="与 --suite 同用: city2 户数,逗号分隔(默认 5000,100000)")
    ap.add_argument("--no-splink", action="store_true", help="与 --suite 同用: 不运行 Splink")
    ap.add_argument("--json-out", type=Path, help="与 --suite 同用: 结果另存为 JSON")
    ap.add_argument("--keep", action="store_true", help="与 --suite 同用: 保留生成的数据与仓库(供 bench.rule_misses)")
    args = ap.parse_args(argv)
    if args.suite:
        from bench.quality_suite import SIZES, run_suite

        sizes = SIZES if args.sizes is None else tuple(int(x) for x in args.sizes.split(",") if x.strip())
        run_suite(sizes, splink=not args.no_splink, json_out=args.json_out, keep=args.keep)
        return 0
    if args.synthetic:
        report = run_synthetic(args.synthetic, args.retrain, args.model)
    elif args.households:
        from sample_data.generate import generate

        out = Path(tempfile.mkdtemp(prefix="generated_"))
        generate(out, args.households, args.seed, ["2026Q2", "2026Q3"], log=lambda *a, **k: None,
                 population=args.population)
        report = run_extracts(out / "extracts", out / "truth", args.retrain, args.model)
    else:
        report = run_extracts(ROOT / "sample_data" / "extracts", ROOT / "sample_data" / "truth",
                              args.retrain, args.model)
    if args.save_model and args.retrain:
        Path(args.save_model).write_text(Path(report["model"]).read_text(encoding="utf-8"), encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        for q, s in report["quarters"].items():
            print(f"{q}: rows {s['rows']}, precision {s['precision']:.4f}, recall {s['recall']:.4f}, "
                  f"wrongly rejected {s.get('wrongly_rejected', '-')}, resolve {s['seconds_resolve']} s")
            print(f"   {s['run'].get('match_methods')}")
            if "by_corruption" in s:
                print("   " + ", ".join(f"{k} {v['in_main_cluster']:.3f}({v['rows']})" for k, v in sorted(s["by_corruption"].items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

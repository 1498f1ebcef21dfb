"""One invocation for the quality tables of docs/quality.md: persons and rules, ours and Splink's.

    python -m bench.quality --suite                      # sample, city2 at 5,000 and at 100,000
    python -m bench.quality --suite --sizes 5000         # sample and city2 at 5,000 only
    python -m bench.quality --suite --no-splink --json-out out.json
    python -m bench.quality --suite --sizes 5000 --keep  # keep data and warehouses for bench.rule_misses

For each data set (the committed sample; `sample_data.generate --population city2`, which nothing in
the pipeline was tuned on, at each size) every quarter is ingested, resolved (with the model
`resolve_quarter` puts in force), run through the rules and published in order, as in production.
On the last quarter it reports pairwise precision/recall of persons, the share of rows with no
usable ID and of rows with one damaged ID digit that sit on their person (bench.quality), per-rule
precision/recall of the published flags (bench.rule_quality), and Splink on the same staged rows
(bench.splink_compare, the `bench` extra). Prints markdown tables ready to paste.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from bench.quality import KEY, ROOT, damaged_rows_on_their_person, pairwise_scores, run_extracts
from bench.rule_quality import evaluate
from matchers.rules.engine import RULE_CODES

CITY2 = "city2"
SIZES = (5_000, 100_000)
SEED = 4242
QUARTERS = ["2026Q2", "2026Q3"]


def datasets(sizes: tuple[int, ...], keep: bool = False):
    """(label, extracts, truth) of the committed sample, then of city2 generated at each size (one
    at a time: unless keep, a generated set is removed once the next is asked for)."""
    from sample_data.generate import generate

    yield "sample (300)", ROOT / "sample_data" / "extracts", ROOT / "sample_data" / "truth"
    for n in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"{CITY2}_{n}_"))
        try:
            generate(root, n, SEED, QUARTERS, log=None, population=CITY2)
            yield f"{CITY2} {n:,}", root / "extracts", root / "truth"
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)


def splink_side(wh: Path, truth: Path, quarter: str) -> dict:
    """Splink on the quarter's staged rows of the warehouse, scored like ours."""
    from bench.splink_compare import SPLINK_INPUT, run_splink

    con = duckdb.connect(str(wh), read_only=True)
    try:
        rows = con.sql(SPLINK_INPUT, params=[quarter]).pl()
    finally:
        con.close()
    theirs, seconds = run_splink(rows)
    joined = _truth_rows(truth, quarter).join(theirs, on=KEY)
    return {"seconds": round(seconds, 2), **pairwise_scores(joined), **damaged_rows_on_their_person(joined)}


def _truth_rows(truth: Path, quarter: str) -> pl.DataFrame:
    return pl.read_csv(truth / quarter / "records.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int32)
    ).filter(pl.col("expected") == "accepted")


def run_dataset(label: str, extracts: Path, truth: Path, splink: bool, keep: bool = False) -> dict:
    started = time.perf_counter()
    report = run_extracts(extracts, truth, retrain=False, model=None, rules=True)
    quarter = max(report["quarters"])
    wh = Path(report["warehouse"])
    try:
        con = duckdb.connect(str(wh), read_only=True)
        try:
            rules = evaluate(con, truth, [quarter])["quarters"][quarter]["rules"]
        finally:
            con.close()
        out = {"label": label, "quarter": quarter, "ours": report["quarters"][quarter], "rules": rules}
        if splink:
            out["splink"] = splink_side(wh, truth, quarter)
    finally:
        if not keep:
            shutil.rmtree(wh.parent, ignore_errors=True)
    if keep:
        out["kept"] = {"warehouse": str(wh), "truth": str(truth)}
    out["seconds_total"] = round(time.perf_counter() - started, 1)
    return out


def _f(x: float | None, digits: int = 4) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _share(block: dict, key: str) -> str:
    d = block.get(key) or {}
    return f"{_f(d.get('on_their_person'), 3)} ({d.get('rows', 0)})"


def persons_table(results: list[dict]) -> str:
    lines = ["| data set | linker | rows | precision | recall | no usable ID on their person (rows) "
             "| one damaged digit on their person (rows) | seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for name, block, seconds in (("ours", r["ours"], r["ours"]["seconds_resolve"]),
                                     ("Splink", r.get("splink"), (r.get("splink") or {}).get("seconds"))):
            if block is None:
                continue
            lines.append(f"| {r['label']} {r['quarter']} | {name} | {block['rows']:,} | {_f(block['precision'])} "
                         f"| {_f(block['recall'])} | {_share(block, 'no_usable_id')} "
                         f"| {_share(block, 'one_damaged_digit')} | {seconds} |")
    return "\n".join(lines)


def rules_table(results: list[dict]) -> str:
    head = "| rule | " + " | ".join(f"{r['label']} P / R (expected)" for r in results) + " |"
    lines = [head, "|---|" + "---|" * len(results)]
    for code in RULE_CODES:
        cells = []
        for r in results:
            x = r["rules"][code]
            cells.append(f"{_f(x['precision'], 3)} / {_f(x['recall'], 3)} ({x['expected']})")
        lines.append(f"| {code} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_suite(sizes: tuple[int, ...] = SIZES, splink: bool = True, json_out: Path | None = None,
              keep: bool = False, log=print) -> list[dict]:
    if splink and importlib.util.find_spec("splink") is None:
        log("Splink 未安装(需 .tools/bin/uv sync --frozen --extra dev --extra bench),本次不做 Splink 对照")
        splink = False
    results = []
    for label, extracts, truth in datasets(sizes, keep):
        log(f"… {label}")
        results.append(run_dataset(label, extracts, truth, splink, keep))
        if keep:
            log(f"   python -m bench.rule_misses --warehouse {results[-1]['kept']['warehouse']} --truth {truth}")
        if json_out:
            json_out.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    log("\n" + persons_table(results) + "\n\n" + rules_table(results))
    return results

"""Incremental refresh vs full re-run: the same changed data resolved both ways, person_id compared
per row, with the resolve step's wall, CPU and peak RSS of each (each in its own child process).

    python -m bench.refresh_agreement --data bench/out/data_100000_4242 \
        --warehouse-from bench/out/run_100000 --work-dir /tmp/refresh_agree

The quarter's extracts and a warehouse where the earlier quarter and this one were run are copied
into --work-dir (the originals are never written). Steps: re-load housing from the original file and
resolve the quarter in full and publish (the published state a refresh builds on); change one row of
the housing file the way bench/run.py does (`change_rows`: one row; `--share 0.01`: the name of every
100th housing row instead) and load it; resolve incrementally; resolve in full (forced) on the same
data; compare. The loaded warehouse is kept (warehouse.loaded.duckdb): `--again` starts both runs
from it again.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

QUARTER = "2026Q3"


def _child(step: str, work: Path) -> dict:
    from assets.extracts import load_source
    from matchers import warehouse
    from matchers.resolution import model_path
    from matchers.resolution.incremental import resolve_with_refresh
    from matchers.resolution.person_ids import load_or_create_key

    wh = work / "warehouse.duckdb"
    extracts = work / "extracts"
    key = load_or_create_key(wh)
    con = warehouse.connect(wh)
    out: dict = {"step": step}
    t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if step == "prepare":
        load_source(con, str(extracts), QUARTER, "housing")
        counts = resolve_with_refresh(con, QUARTER, model_path=model_path(), key=key, force_full=True)
        warehouse.publish_quarter(con, QUARTER)
    elif step == "load":
        load_source(con, str(extracts), QUARTER, "housing")
        counts = {}
    else:
        counts = resolve_with_refresh(con, QUARTER, model_path=model_path(), key=key, force_full=(step == "full"))
        con.sql(
            "SELECT source, source_file, source_row, person_id, match_method, match_probability "
            "FROM work_source_records WHERE quarter = ?", params=[QUARTER]
        ).pl().write_parquet(work / f"{step}.parquet")
        con.sql("SELECT * FROM work_persons").pl().write_parquet(work / f"{step}_persons.parquet")
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out.update(
        wall_seconds=round(time.perf_counter() - t0, 2),
        cpu_seconds=round((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), 2),
        peak_rss_mb=round(r1.ru_maxrss / 1024),
        load_average=[round(x, 2) for x in os.getloadavg()],
        **{k: counts[k] for k in ("mode", "mode_reason", "rows", "rows_resolved", "rows_removed", "rows_in_run",
                                   "nodes_in_run", "candidate_pairs", "seconds_decide", "seconds_steps")
           if k in counts},
    )
    con.close()
    return out


def _run(step: str, work: Path) -> dict:
    res = subprocess.run(
        [sys.executable, "-m", "bench.refresh_agreement", "--child", step, "--work-dir", str(work)],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
    )
    if res.returncode:
        raise SystemExit(f"{step} 失败:\n{res.stderr[-3000:]}")
    report = json.loads(res.stdout.strip().splitlines()[-1])
    print(json.dumps(report, ensure_ascii=False), file=sys.stderr)
    return report


def compare(work: Path) -> dict:
    import polars as pl

    inc = pl.read_parquet(work / "incremental.parquet")
    full = pl.read_parquet(work / "full.parquet")
    key = ["source", "source_file", "source_row"]
    j = inc.join(full, on=key, how="full", suffix="_full", coalesce=True)
    diff = j.filter(pl.col("person_id").ne_missing(pl.col("person_id_full")))
    by_source = diff.group_by("source").len().sort("source").rows()
    # same person, but found another way or with another probability (scores that are not the
    # full run's would show here first)
    scored = j.filter(
        pl.col("person_id").eq_missing(pl.col("person_id_full"))
        & (pl.col("match_method").ne_missing(pl.col("match_method_full"))
           | ((pl.col("match_probability") - pl.col("match_probability_full")).abs() > 1e-9)
           | pl.col("match_probability").is_null().ne(pl.col("match_probability_full").is_null()))
    )
    # which rows the refresh re-resolved (staged row differs from the published one, or new): the
    # others keep their published resolution by design
    resolved = _changed_keys(work)
    if resolved is not None:
        marked = resolved.with_columns(re_resolved=pl.lit(True))
        diff = diff.join(marked, on=key, how="left").with_columns(pl.col("re_resolved").fill_null(False))
        scored = scored.join(marked, on=key, how="left").with_columns(pl.col("re_resolved").fill_null(False))
    pi = pl.read_parquet(work / "incremental_persons.parquet").sort("person_id")
    pf = pl.read_parquet(work / "full_persons.parquet").sort("person_id")
    persons_differ = pi.join(pf, on=pi.columns, how="anti", nulls_equal=True).height + pf.join(
        pi, on=pi.columns, how="anti", nulls_equal=True).height
    return {
        "persons_index": pi.height,
        "persons_index_full": pf.height,
        "persons_index_rows_differ": persons_differ,
        "rows": inc.height,
        "rows_full": full.height,
        "differ": diff.height,
        "differ_by_source": dict(by_source),
        "same_person_other_method_or_probability": scored.height,
        **({
            "rows_re_resolved": resolved.height,
            "differ_re_resolved": diff.filter("re_resolved").height,
            "differ_kept": diff.filter(~pl.col("re_resolved")).height,
            "same_person_other_method_or_probability_re_resolved": scored.filter("re_resolved").height,
            "same_person_other_method_or_probability_kept": scored.filter(~pl.col("re_resolved")).height,
        } if resolved is not None else {}),
        "examples": diff.head(20).select(
            *key, "match_method", "match_probability", "match_method_full", "match_probability_full"
        ).to_dicts(),
    }


def _changed_keys(work: Path):
    """Keys of the staged rows with no identical published row in the loaded warehouse (what an
    incremental refresh re-resolves), or None without the loaded copy."""
    import duckdb

    path = work / "warehouse.loaded.duckdb"
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        cols = ", ".join(
            f'"{c}"' for (c,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'stg_records' ORDER BY column_index"
            ).fetchall()
        )
        return con.sql(
            f"SELECT source, source_file, source_row FROM (SELECT source, source_file, source_row, hash({cols}) AS h "
            f"FROM stg_records WHERE quarter = '{QUARTER}') "
            f"ANTI JOIN (SELECT source, source_file, source_row, hash({cols}) AS h FROM source_records "
            f"WHERE quarter = '{QUARTER}') USING (source, source_file, source_row, h)"
        ).pl()
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path)
    ap.add_argument("--warehouse-from", type=Path)
    ap.add_argument("--work-dir", type=Path, required=True)
    ap.add_argument("--child")
    ap.add_argument("--again", action="store_true", help="复用 --work-dir 中已准备好的仓库,只重跑增量与全量两步")
    ap.add_argument("--share", type=float, help="改动住建文件中这一比例的行(如 0.01),而不是只改一行")
    ap.add_argument("--incremental-only", action="store_true", help="只重跑增量一步(与 --again 一起,计时用)")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.work_dir), ensure_ascii=False))
        return 0
    from bench.run import change_rows

    work = args.work_dir
    os.environ.setdefault("DUCKDB_MEMORY_LIMIT", "4GB")
    os.environ.setdefault("DUCKDB_TEMP_DIR", str(work / "duckdb_tmp"))
    if args.again:
        result = json.loads((work / "result.json").read_text(encoding="utf-8"))
        shutil.copy(work / "warehouse.loaded.duckdb", work / "warehouse.duckdb")
        if args.incremental_only:
            result["incremental"] = _run("incremental", work)
            (work / "result_incremental.json").write_text(
                json.dumps(result["incremental"], ensure_ascii=False, indent=1, default=str), encoding="utf-8")
            return 0
        return _resolve_both_and_compare(result, work)
    if work.exists():
        shutil.rmtree(work)
    (work / "extracts").mkdir(parents=True)
    shutil.copytree(args.data / "extracts" / QUARTER, work / "extracts" / QUARTER)
    shutil.copy(args.warehouse_from / "warehouse.duckdb", work / "warehouse.duckdb")
    shutil.copy(args.warehouse_from / "person_id.key", work / "person_id.key")
    result = {"prepare": _run("prepare", work)}
    housing = sorted((work / "extracts" / QUARTER).glob("housing*.csv"))[0]
    result["rows_changed_in_file"] = change_rows(housing, args.share)[1]
    result["load"] = _run("load", work)
    shutil.copy(work / "warehouse.duckdb", work / "warehouse.loaded.duckdb")
    return _resolve_both_and_compare(result, work)


def _resolve_both_and_compare(result: dict, work: Path) -> int:
    """Resolve the prepared quarter incrementally, then in full; compare; write result.json."""
    result["incremental"] = _run("incremental", work)
    result["full"] = _run("full", work)
    result["agreement"] = compare(work)
    (work / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    print(json.dumps(result["agreement"], ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

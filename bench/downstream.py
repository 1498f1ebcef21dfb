"""Time the two stages after resolution on their own: `flags` (rules + publish) and `exports`
(district workbooks + quarterly reports), each on a fresh copy of a warehouse that a full run left.

    python -m bench.downstream --warehouse /tmp/wh.duckdb --quarter 2026Q3 --stage flags --repeat 3
    python -m bench.downstream --warehouse /tmp/wh.duckdb --quarter 2026Q3 --stage exports --repeat 3
    python -m bench.downstream ... --stage flags --unpublished   # as in a full run: quarter not public yet

Each repeat copies the warehouse (the original is never written), then runs the stage in a child
process doing what the Dagster asset does (same library calls, without Dagster) and reports the
child's wall seconds, CPU seconds (user+system, all DuckDB threads included, plus the workbook
helper process's) and peak RSS (ru_maxrss; the helper's peak shown apart). Connection open and
close (DuckDB's checkpoint) count. Wall times are noisy on a shared machine; compare CPU seconds
and peak RSS.

Exports scenarios (--scenario, exports stage only): `first` exports into an empty folder (a full
run); `unchanged` exports once untimed, then times a second export with nothing changed (a nightly
refresh that changed no flag); `one-reason` exports once, changes the reason of one flag in one
district, then times the export (one district's workbook changes, the reports do not);
`one-flag-gone` exports once, deletes one flag of one district, then times the export (that
district's workbook, its report and the city report change). Only the timed export is measured.

--unpublished first removes the quarter's rows from the public tables on the copy (outside the
timing), the state the flags step meets in a full quarterly run; without it the flags step
replaces an already published quarter (a re-run).

DuckDB runs with DUCKDB_MEMORY_LIMIT (default 4GB, as bench.run) like the benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_QUARTER_TABLES = ("source_records", "household_members", "flags", "rejected_rows")
SCENARIOS = ("first", "unchanged", "one-reason", "one-flag-gone")
# The flag a scenario changes: the first flag (by flag_id) of the first district that has flags.
ONE_FLAG = """
SELECT flag_id FROM flags
WHERE quarter = $quarter AND district = (SELECT min(district) FROM flags WHERE quarter = $quarter)
ORDER BY flag_id LIMIT 1
"""
CHANGES = {
    "one-reason": f"UPDATE flags SET reason = reason || '(复核)' WHERE quarter = $quarter AND flag_id = ({ONE_FLAG})",
    "one-flag-gone": f"DELETE FROM flags WHERE quarter = $quarter AND flag_id = ({ONE_FLAG})",
}


def child(spec: dict) -> dict:
    import resource

    from matchers import warehouse as wh

    quarter, path, exports = spec["quarter"], spec["warehouse"], spec["exports"]
    t0 = time.perf_counter()
    c0 = time.process_time()
    out: dict = {}
    con = wh.connect(path)
    try:
        if spec["stage"] == "flags":
            from matchers.rules.config import load_config
            from matchers.rules.engine import preview_markdown, run_rules

            run = run_rules(con, quarter, load_config(), run_id="bench")
            preview_markdown(con, quarter)
            out["published"] = wh.publish_quarter(con, quarter)
            out["flags"] = run.total
        else:
            import base64

            from matchers.reports.quarterly import write_quarterly_reports
            from matchers.reports.workbooks import export_district_workbooks

            books = export_district_workbooks(con, quarter, exports, actor="bench")
            reports = write_quarterly_reports(con, quarter, exports, actor="bench")
            base64.b64encode(reports[0].chart_path.read_bytes())
            out["workbooks"] = len(books)
            out["workbooks_rebuilt"] = sum(not b.unchanged for b in books)
            out["reports_rebuilt"] = sum(not getattr(r, "unchanged", False) for r in reports)
            out["workbook_rows"] = sum(b.rows for b in books)
            out["reports"] = len(reports)
    finally:
        con.close()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    helper = resource.getrusage(resource.RUSAGE_CHILDREN)  # the workbook helper process, if one ran
    out.update(
        wall_seconds=round(time.perf_counter() - t0, 2),
        cpu_seconds=round(time.process_time() - c0 + helper.ru_utime + helper.ru_stime, 2),
        peak_rss_mb=round(ru.ru_maxrss / 1024),
        helper_peak_rss_mb=round(helper.ru_maxrss / 1024),
    )
    return out


def unpublish(path: str, quarter: str) -> None:
    import duckdb

    con = duckdb.connect(path)
    try:
        for table in PUBLIC_QUARTER_TABLES:
            con.execute(f"DELETE FROM {table} WHERE quarter = ?", [quarter])
        con.execute("CHECKPOINT")
    finally:
        con.close()


def change(path: str, quarter: str, scenario: str) -> None:
    """Apply the scenario's change to the warehouse copy (outside the timing)."""
    import duckdb

    con = duckdb.connect(path)
    try:
        con.execute(CHANGES[scenario], {"quarter": quarter})
        con.execute("CHECKPOINT")
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", required=True, help="warehouse a full run left (only copied, never written)")
    ap.add_argument("--quarter", required=True)
    ap.add_argument("--stage", choices=("flags", "exports"), required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--unpublished", action="store_true", help="flags: remove the quarter from the public tables first")
    ap.add_argument("--scenario", choices=SCENARIOS, default="first", help="exports: what changed since the last export")
    ap.add_argument("--work-dir", default=None, help="where the copies go (default: a temp folder)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        Path(spec["out"]).write_text(json.dumps(child(spec)), encoding="utf-8")
        return 0
    os.environ.setdefault("DUCKDB_MEMORY_LIMIT", "4GB")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_downstream_"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(args.repeat):
        copy = work / "wh.duckdb"
        for p in (copy, Path(str(copy) + ".wal")):
            p.unlink(missing_ok=True)
        shutil.copyfile(args.warehouse, copy)
        if Path(args.warehouse + ".wal").exists():
            shutil.copyfile(args.warehouse + ".wal", str(copy) + ".wal")
        if args.unpublished:
            unpublish(str(copy), args.quarter)
        exports = work / "exports"
        shutil.rmtree(exports, ignore_errors=True)
        out = work / "child.json"
        spec = {"stage": args.stage, "quarter": args.quarter, "warehouse": str(copy), "exports": str(exports),
                "out": str(out)}
        run = [sys.executable, "-m", "bench.downstream", "--quarter", args.quarter, "--stage", args.stage,
               "--warehouse", args.warehouse, "--child", json.dumps(spec)]
        if args.stage == "exports" and args.scenario != "first":
            subprocess.run(run, cwd=ROOT, check=True)  # the earlier export, untimed
            if args.scenario in CHANGES:
                change(str(copy), args.quarter, args.scenario)
        subprocess.run(run, cwd=ROOT, check=True)
        r = json.loads(out.read_text(encoding="utf-8"))
        r["load_average"] = round(os.getloadavg()[0], 2)
        label = f"{args.stage} ({args.scenario})" if args.stage == "exports" else args.stage
        print(f"{label} #{i + 1}: " + json.dumps(r, ensure_ascii=False), flush=True)
        results.append(r)
    summary = {k: round(statistics.median(r[k] for r in results), 2) for k in ("wall_seconds", "cpu_seconds", "peak_rss_mb")}
    print(f"{label} median of {len(results)}: " + json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time the flags step of a nightly refresh (rules + publish) with a few work rows changed, and check
it publishes exactly what the full computation does.

    python -m bench.flags_refresh --warehouse bench/out/run_100000/warehouse.duckdb --quarter 2026Q3 --repeat 3

1. base: a copy of the warehouse on which the flags step runs once in full (so the published flags
   carry the record a scoped refresh builds on), then checkpointed;
2. per repeat: a copy of base, one housing row's content changed in work_source_records, with the
   run_log record an incremental resolution of housing leaves (--no-resolution-record: without
   it, as after a full resolution), then the flags step in a child process
   (bench.downstream's child: run_rules + preview + publish_quarter), reporting wall s, CPU s
   (user+system, all threads) and peak RSS;
3. check: the same change on another copy with the full computation (force_full); every public
   table of the quarter must be the same.

The original warehouse is only copied, never written. Wall times are noisy on a shared machine;
compare CPU seconds and peak RSS.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("source_records", "household_members", "flags", "rejected_rows")


def _copy(src: Path, dst: Path) -> None:
    for p in (dst, Path(str(dst) + ".wal")):
        p.unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    if Path(str(src) + ".wal").exists():
        shutil.copyfile(str(src) + ".wal", str(dst) + ".wal")


def change_one_housing_row(path: Path, quarter: str, resolution_record: bool = True) -> None:
    """One housing row of the quarter gets another safety grade and renovation state; with
    `resolution_record`, the run_log record an incremental resolution that re-resolved housing
    leaves (matchers.resolution.incremental: publish_sources and the digests it saw)."""
    from matchers import warehouse as wh

    con = wh.connect(path)
    try:
        published = wh.quarter_digest(con, "source_records", quarter)
        con.execute(
            """
            UPDATE work_source_records SET safety_grade = CASE WHEN safety_grade = 'D' THEN 'A' ELSE 'D' END,
                   renovation = '未改造', aid_type = '无'
            WHERE quarter = ? AND source = 'housing'
              AND source_row = (SELECT min(source_row) FROM work_source_records WHERE quarter = ? AND source = 'housing')
              AND source_file = (SELECT min(source_file) FROM work_source_records WHERE quarter = ? AND source = 'housing')
            """,
            [quarter, quarter, quarter],
        )
        if resolution_record:
            details = {"mode": "增量匹配", "publish_sources": ["housing"], "published_digest": published,
                       "result_digest": wh.quarter_digest(con, "work_source_records", quarter)}
            con.execute(
                "INSERT INTO run_log (quarter, step, run_id, started_at, finished_at, details) "
                "VALUES (?, 'resolution', 'bench', now(), now(), ?)",
                [quarter, json.dumps(details, ensure_ascii=False)],
            )
        con.execute("CHECKPOINT")
    finally:
        con.close()


def flags_step(path: Path, quarter: str, force_full: bool = False) -> dict:
    from matchers import warehouse as wh
    from matchers.rules.config import load_config
    from matchers.rules.engine import run_rules

    con = wh.connect(path)
    try:
        run = run_rules(con, quarter, load_config(), run_id="bench", force_full=force_full)
        wh.publish_quarter(con, quarter)
        con.execute("CHECKPOINT")
        return {"mode": run.mode, "reason": run.mode_reason, **run.scope}
    finally:
        con.close()


def public_tables(path: Path, quarter: str) -> dict[str, list]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} WHERE quarter = ? ORDER BY ALL", [quarter]).fetchall() for t in TABLES}
        out["persons"] = con.execute("SELECT * FROM persons ORDER BY ALL").fetchall()
        return out
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", required=True)
    ap.add_argument("--quarter", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--work-dir", default=None)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--no-resolution-record", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("DUCKDB_MEMORY_LIMIT", "4GB")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="bench_flags_refresh_"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.duckdb"
    if not base.exists():
        _copy(Path(args.warehouse), base)
        print("base (full flags run): " + json.dumps(flags_step(base, args.quarter), ensure_ascii=False), flush=True)
    results = []
    for i in range(args.repeat):
        copy = work / "wh.duckdb"
        _copy(base, copy)
        change_one_housing_row(copy, args.quarter, not args.no_resolution_record)
        out = work / "child.json"
        spec = {"stage": "flags", "quarter": args.quarter, "warehouse": str(copy), "exports": str(work / "exports"),
                "out": str(out)}
        subprocess.run([sys.executable, "-m", "bench.downstream", "--quarter", args.quarter, "--stage", "flags",
                        "--warehouse", str(copy), "--child", json.dumps(spec)], cwd=ROOT, check=True)
        r = json.loads(out.read_text(encoding="utf-8"))
        r["load_average"] = round(os.getloadavg()[0], 2)
        print(f"refresh #{i + 1}: " + json.dumps(r, ensure_ascii=False), flush=True)
        results.append(r)
    summary = {k: round(statistics.median(r[k] for r in results), 2) for k in ("wall_seconds", "cpu_seconds", "peak_rss_mb")}
    print(f"refresh median of {len(results)}: " + json.dumps(summary), flush=True)
    if not args.no_check:
        scoped, full = work / "scoped.duckdb", work / "full.duckdb"
        for p, force in ((scoped, False), (full, True)):
            _copy(base, p)
            change_one_housing_row(p, args.quarter, not args.no_resolution_record)
            print(f"{'full' if force else 'scoped'}: " + json.dumps(flags_step(p, args.quarter, force), ensure_ascii=False))
        a, b = public_tables(scoped, args.quarter), public_tables(full, args.quarter)
        same = {t: a[t] == b[t] for t in a}
        print("scoped == full: " + json.dumps(same), flush=True)
        if not all(same.values()):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time `resolve_quarter` alone on a copy of a built warehouse: CPU s, wall s, peak RSS.

    python -m bench.resolve_timing --warehouse /tmp/wh.duckdb --quarter 2026Q3 \
        [--profile out.prof] [--dump out.parquet] [--memory-limit 4GB]

The warehouse (built by `pipelines.run_quarter`) is copied to a temporary folder, so the source
stays as it was and every run starts from the same state. A fresh child process runs
`resolve_quarter` (so its peak RSS is resolution's own); a thread samples the child's RSS every
0.1 s (peak and the step it fell in, from the timeline). `--dump` writes the quarter's
work_source_records keys with person_id / match_method, to compare two versions row by row
(`--compare a.parquet b.parquet`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

KEY = b"resolve-timing-bench"
DUMP_COLUMNS = "quarter, source, source_file, source_row, person_id, match_method, match_probability"


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _TracedConnection:
    """A DuckDB connection whose execute() calls are timed (seconds, RSS after) into `log`."""

    def __init__(self, con, log: list) -> None:
        self._con, self._log = con, log

    def execute(self, query, *args, **kwargs):
        t = time.perf_counter()
        out = self._con.execute(query, *args, **kwargs)
        head = " ".join(str(query).split())[:90]
        self._log.append((round(time.perf_counter() - t, 2), round(_rss_mb()), head))
        return out

    def __getattr__(self, name):
        return getattr(self._con, name)


def _child(db: str, quarter: str, profile: str | None, dump: str | None, trace: bool = False) -> None:
    from matchers import warehouse
    from matchers.resolution import resolve_quarter
    from matchers.resolution.resolve import model_path

    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    t0 = time.perf_counter()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter() - t0, _rss_mb()))
            stop.wait(0.1)

    con = warehouse.connect(db)
    log: list = []
    run_con = _TracedConnection(con, log) if trace else con
    sampler = threading.Thread(target=sample, daemon=True)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    sampler.start()
    if profile:
        import cProfile

        prof = cProfile.Profile()
        counts = prof.runcall(resolve_quarter, run_con, quarter, model_path=model_path(), key=KEY)
        prof.dump_stats(profile)
    else:
        counts = resolve_quarter(run_con, quarter, model_path=model_path(), key=KEY)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    stop.set()
    sampler.join()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    peak_t, peak = max(samples, key=lambda s: s[1]) if samples else (0.0, 0.0)
    if dump:
        con.sql(
            f"SELECT {DUMP_COLUMNS} FROM work_source_records WHERE quarter = ? ORDER BY source, source_file, source_row",
            params=[quarter],
        ).write_parquet(dump)
        con.sql("SELECT * FROM work_persons ORDER BY person_id").write_parquet(dump + ".persons.parquet")
    # a coarse RSS timeline: the maximum per second
    timeline: dict[int, float] = {}
    for t, mb in samples:
        timeline[int(t)] = max(timeline.get(int(t), 0.0), mb)
    print(json.dumps({
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(ru1.ru_maxrss / 1024),
        "peak_rss_sampled_mb": round(peak),
        "peak_at_s": round(peak_t, 1),
        "candidate_pairs": counts["candidate_pairs"],
        "links": counts["links"],
        "rows": counts["rows"],
        "persons": counts["persons"],
        "seconds_steps": counts["seconds_steps"],
        "rss_timeline_mb": {k: round(v) for k, v in sorted(timeline.items())},
    }, ensure_ascii=False))
    for seconds, mb, head in log:
        if seconds >= 0.3:
            print(f"{seconds:7.2f} s {mb:6d} MB  {head}", file=sys.stderr)


def compare(a: str, b: str) -> int:
    """Rows whose person_id or match_method differ between two dumps (by source row)."""
    import polars as pl

    keys = ["quarter", "source", "source_file", "source_row"]
    left, right = pl.read_parquet(a), pl.read_parquet(b)
    joined = left.join(right, on=keys, how="full", suffix="_new", coalesce=True)
    diff = joined.filter(
        pl.col("person_id").ne_missing(pl.col("person_id_new"))
        | pl.col("match_method").ne_missing(pl.col("match_method_new"))
    )
    prob = joined.filter(pl.col("match_probability").ne_missing(pl.col("match_probability_new")))
    print(json.dumps({"rows_a": len(left), "rows_b": len(right), "differences": len(diff),
                      "probability_differences": len(prob),
                      "max_probability_delta": float(
                          (joined["match_probability"] - joined["match_probability_new"]).abs().max() or 0.0)}))
    if len(diff):
        print(diff.select(*keys, "person_id", "person_id_new", "match_method", "match_method_new").head(20))
    if Path(a + ".persons.parquet").exists() and Path(b + ".persons.parquet").exists():
        pa, pb = pl.read_parquet(a + ".persons.parquet"), pl.read_parquet(b + ".persons.parquet")
        same = pa.equals(pb)
        print(json.dumps({"persons_a": len(pa), "persons_b": len(pb), "work_persons_identical": same}))
        if not same:  # which columns differ, for how many persons (no values: they hold ID numbers)
            joined = pa.join(pb, on="person_id", how="full", suffix="_new")
            print(json.dumps({c: joined.filter(pl.col(c).ne_missing(pl.col(f"{c}_new"))).height
                              for c in pa.columns if c != "person_id"}))
    return 0 if len(diff) == 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="人员匹配单步计时(复制仓库后只运行 resolve_quarter)")
    ap.add_argument("--warehouse")
    ap.add_argument("--quarter", default="2026Q3")
    ap.add_argument("--profile", default=None, help="cProfile 输出文件")
    ap.add_argument("--dump", default=None, help="把本季度 person_id / match_method 写到 parquet")
    ap.add_argument("--memory-limit", default="4GB", help="DUCKDB_MEMORY_LIMIT, as bench.run sets it")
    ap.add_argument("--compare", nargs=2, default=None, help="比较两个 --dump 文件")
    ap.add_argument("--trace-sql", action="store_true", help="每条 execute 的耗时与 RSS(stderr)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.child:
        _child(args.child, args.quarter, args.profile, args.dump, args.trace_sql)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="resolve_timing_"))
    try:
        db = tmp / "warehouse.duckdb"
        shutil.copyfile(args.warehouse, db)
        if Path(args.warehouse + ".wal").exists():
            shutil.copyfile(args.warehouse + ".wal", str(db) + ".wal")
        env = {**os.environ, "DUCKDB_MEMORY_LIMIT": args.memory_limit, "DUCKDB_TEMP_DIR": str(tmp / "duckdb_tmp")}
        cmd = [sys.executable, "-m", "bench.resolve_timing", "--child", str(db), "--quarter", args.quarter]
        cmd += ["--profile", args.profile] if args.profile else []
        cmd += ["--dump", args.dump] if args.dump else []
        cmd += ["--trace-sql"] if args.trace_sql else []
        return subprocess.call(cmd, env=env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Scale benchmark of person resolution: N synthetic records, time and peak memory.

    python -m bench.resolution_scale --records 1000000

Step 1 (this process) writes N rows of `bench.synth_resolution` into a fresh warehouse; step 2 (a
fresh child process, so its peak RSS is resolution's own) runs `resolve_quarter` with the saved
model and reports seconds, peak RSS (ru_maxrss of the child), counts, and pairwise precision and
recall against the synthetic truth. DuckDB's memory_limit is set for the run (default 2GB, as one
would deploy it on a 24 GB machine shared with other work).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROWS_PER_HOUSEHOLD = 6.0  # what bench.synth_resolution produces on average


def _child(db: str, truth: str, model: str | None, memory_limit: str) -> None:
    import polars as pl

    from bench.quality import pairwise_scores
    from matchers import warehouse
    from matchers.resolution import resolve_quarter
    from matchers.resolution.resolve import model_path

    con = warehouse.connect(db)
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")  # DuckDB's buffer pool, as deployed
    t = time.perf_counter()
    counts = resolve_quarter(con, "2026Q3", model_path=model or model_path(), key=b"scale-bench")
    seconds = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    got = con.sql("SELECT source, source_row, person_id FROM work_source_records").pl()
    scores = pairwise_scores(got.join(pl.read_parquet(truth), on=["source", "source_row"]))
    print(json.dumps({"seconds_resolve": round(seconds, 1), "peak_rss_mb": round(peak_mb),
                      **{k: counts[k] for k in ("rows", "persons", "candidate_pairs", "links", "review_band",
                                                "links_cut_by_guard", "match_methods", "seconds_blocking", "seconds_steps")},
                      "oversized_blocks": counts["oversized_blocks"], **scores}, ensure_ascii=False))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="人员匹配规模测试")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--model", default=None)
    ap.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit for the run ('' = default)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1], args.model, args.memory_limit)
        return 0
    from bench.synth_resolution import generate, load_into
    from matchers import warehouse

    tmp = Path(tempfile.mkdtemp(prefix="scale_"))
    t = time.perf_counter()
    records = generate(int(args.records / ROWS_PER_HOUSEHOLD), seed=99)
    con = warehouse.connect(tmp / "warehouse.duckdb")
    load_into(con, records)
    con.close()
    records.select("source", "source_row", "person_key").write_parquet(tmp / "truth.parquet")
    print(f"generated {len(records)} rows in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    cmd = [sys.executable, "-m", "bench.resolution_scale", "--child", str(tmp / "warehouse.duckdb"),
           str(tmp / "truth.parquet"), "--memory-limit", args.memory_limit]
    cmd += ["--model", args.model] if args.model else []
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())

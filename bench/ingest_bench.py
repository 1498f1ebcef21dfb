"""Benchmark: the ingest stage alone, the way `assets.extracts.load_source` does it, per source.

    .venv/bin/python -m bench.ingest_bench --extracts bench/out/data_100000_4242/extracts --quarter 2026Q3

For each of the six sources: read every file (`read_extract_file`), then `prepare_source` (typed
parsing, ID and name normalisation, the acceptance rule). The DuckDB write of `load_source` is
left out (it belongs to the warehouse, not to ingest). Prints per-source wall and CPU seconds and
row counts, then the totals (digests not counted) and the process's peak RSS (measure it without
`--digest`, which holds every value as Python objects for a moment). With `--profile FILE` a cProfile dump of
the whole run is written as well. With `--digest`, a SHA-256 of every source's records and
rejected rows (sorted, as Arrow IPC) is printed, so two versions of the code can be compared for
identical results on the same data.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import time

import polars as pl

from matchers.contract import SOURCES
from matchers.extract_reader import read_extract_file, source_files
from matchers.ingest import prepare_source


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _digest(frame: pl.DataFrame) -> str:
    if frame.height == 0:
        return "empty"
    frame = frame.sort(["source_file", "source_row"])
    h = hashlib.sha256()
    h.update(repr(frame.schema).encode())
    for column in frame.columns:
        h.update(column.encode())
        h.update(repr(frame.get_column(column).to_list()).encode())
    return h.hexdigest()[:16]


def ingest_source(extracts: str, quarter: str, source: str):
    """The read and prepare steps of `load_source` for one source."""
    paths = source_files(extracts, quarter, source)
    files = [read_extract_file(p, source) for p in paths]
    return files, prepare_source(source, files)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extracts", required=True, help="the extracts folder (holding <quarter>/)")
    ap.add_argument("--quarter", required=True, help="e.g. 2026Q3")
    ap.add_argument("--profile", help="write a cProfile dump of the whole run to this file")
    ap.add_argument("--digest", action="store_true", help="print a digest of each source's result")
    args = ap.parse_args(argv)

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    wall, cpu = 0.0, 0.0
    print(f"{'source':<11} {'files':>5} {'rows':>9} {'accepted':>9} {'rejected':>8} {'wall s':>7} {'cpu s':>7}  digest")
    for source in SOURCES:
        w, c = time.perf_counter(), _cpu()
        files, prepared = ingest_source(args.extracts, args.quarter, source)
        w, c = time.perf_counter() - w, _cpu() - c
        wall, cpu = wall + w, cpu + c
        rows = sum(f.rows.height for f in files)
        digest = ""
        if args.digest:
            digest = _digest(prepared.records) + "/" + _digest(prepared.rejected)
        print(
            f"{source:<11} {len(files):>5} {rows:>9} {prepared.records.height:>9} "
            f"{prepared.rejected.height:>8} {w:>7.2f} {c:>7.2f}  {digest}"
        )
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'total':<11} {'':>5} {'':>9} {'':>9} {'':>8} {wall:>7.2f} {cpu:>7.2f}")
    print(f"peak RSS {peak_mb:,.0f} MB")


if __name__ == "__main__":
    main()

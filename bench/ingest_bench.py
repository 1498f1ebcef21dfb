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

    .venv/bin/python -m bench.ingest_bench --formats 200000

writes one synthetic assistance roll of that many rows as UTF-8 CSV, GB18030 CSV and XLSX and
times, in the same run, `read_extract_file` on each against DuckDB's `read_csv` of the same bytes
(all columns as text; DuckDB reads GB18030 only through its downloadable `encodings` extension,
so that row times DuckDB on the same rows transcoded to UTF-8 and says so) and fastexcel
(calamine) on the XLSX: median of `--repeat` runs, wall and CPU seconds, rows per second.
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import tempfile
import time
from pathlib import Path

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


def _roll_rows(n: int) -> list[list[str]]:
    """`n` assistance rows of made-up people with valid IDs, under the corpus header."""
    from matchers.ids import check_char
    from tests.bad_inputs.make_corpus import GOOD

    out = []
    for i in range(n):
        first17 = f"420102{1950 + i % 60}0101{i % 1000:03d}"
        base = GOOD[i % len(GOOD)]
        out.append([str(i + 1), f"H{i // 3}", *base[2:4], first17 + check_char(first17), *base[5:]])
    return out


def _write_formats(folder: Path, n: int) -> dict[str, Path]:
    import xlsxwriter

    from tests.bad_inputs.make_corpus import HEADER, csv_bytes

    rows = [HEADER] + _roll_rows(n)
    paths = {"utf-8 csv": folder / "assistance_utf8.csv", "gb18030 csv": folder / "assistance_gb.csv",
             "xlsx": folder / "assistance.xlsx"}
    paths["utf-8 csv"].write_bytes(csv_bytes(rows))
    paths["gb18030 csv"].write_bytes(csv_bytes(rows, "gb18030"))
    wb = xlsxwriter.Workbook(paths["xlsx"], {"constant_memory": True, "strings_to_numbers": False})
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        ws.write_row(r, 0, row)
    wb.close()
    return paths


def _timed(fn, repeat: int) -> tuple[float, float, int]:
    """(median wall s, median CPU s, rows) of `repeat` calls of `fn` returning a row count."""
    walls, cpus, rows = [], [], 0
    for _ in range(repeat):
        w, c = time.perf_counter(), _cpu()
        rows = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus), rows


def format_bench(n: int, repeat: int) -> None:
    import duckdb
    import fastexcel

    con = duckdb.connect()

    def duck(path: Path) -> int:
        # Every column materialised (as Arrow), as our reader builds every cell.
        sql = "SELECT * FROM read_csv(?, all_varchar = true, header = true)"
        return con.sql(sql, params=[str(path)]).to_arrow_table().num_rows

    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_formats(Path(tmp), n)
        utf8_from_gb = Path(tmp) / "transcoded.csv"
        utf8_from_gb.write_bytes(paths["gb18030 csv"].read_bytes().decode("gb18030").encode("utf-8"))
        cases = [(f"ours {name}", lambda p=p: read_extract_file(p, "assistance").rows.height) for name, p in paths.items()]
        cases += [
            ("duckdb utf-8 csv", lambda: duck(paths["utf-8 csv"])),
            ("duckdb gb18030 csv (transcoded)", lambda: duck(utf8_from_gb)),
            ("fastexcel xlsx", lambda: fastexcel.read_excel(paths["xlsx"]).load_sheet(0, dtypes="string").to_polars().height),
        ]
        print(f"{n:,} rows; sizes: " + ", ".join(f"{k} {p.stat().st_size / 1e6:.1f} MB" for k, p in paths.items()))
        print(f"{'reader':<34} {'rows':>9} {'wall s':>7} {'cpu s':>7} {'rows/s':>10}")
        for label, fn in cases:
            wall, cpu, rows = _timed(fn, repeat)
            print(f"{label:<34} {rows:>9} {wall:>7.2f} {cpu:>7.2f} {rows / wall:>10,.0f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extracts", help="the extracts folder (holding <quarter>/)")
    ap.add_argument("--quarter", help="e.g. 2026Q3")
    ap.add_argument("--formats", type=int, help="compare readers per format on a roll of this many rows")
    ap.add_argument("--repeat", type=int, default=3, help="runs per reader with --formats (the median is shown)")
    ap.add_argument("--profile", help="write a cProfile dump of the whole run to this file")
    ap.add_argument("--digest", action="store_true", help="print a digest of each source's result")
    args = ap.parse_args(argv)
    if args.formats:
        format_bench(args.formats, args.repeat)
        return
    if not (args.extracts and args.quarter):
        ap.error("--extracts and --quarter are needed (or --formats N)")

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

"""The run_log records the pipeline steps leave, and what publishing reads from them."""

from __future__ import annotations

import json

import duckdb

from matchers.warehouse.digests import quarter_digest

# The resolution step's run_log record ('resolution', matchers.resolution.incremental) names, for an
# incremental run, the sources whose rows it wrote (`publish_sources`), the digest of the published
# rows it built on (`published_digest`) and of its result (`result_digest`).
RESOLUTION_STEP = "resolution"


# The flags step's record (matchers.rules.engine, step 'flags') carries the same three keys when the
# rules run compared the work rows with the published ones itself (a scoped run).
FLAGS_STEP = "flags"

# How each step says it ran (run_log details, the run's metadata, the console): resolution from
# scratch or only the changed sources; the rules over the whole quarter or only the persons touched.
RESOLUTION_FULL, RESOLUTION_INCREMENTAL = "全量匹配", "增量匹配"
FLAGS_FULL, FLAGS_SCOPED = "全量比对", "局部比对"


def latest_run_details(con: duckdb.DuckDBPyConnection, quarter: str, step: str) -> dict | None:
    """The details of the newest run_log record of `step` for the quarter (None without one)."""
    rec = con.execute(
        "SELECT details FROM run_log WHERE quarter = ? AND step = ? ORDER BY finished_at DESC LIMIT 1",
        [quarter, step],
    ).fetchall()
    if not rec:
        return None
    d = rec[0][0]
    return json.loads(d) if isinstance(d, str) else d


def recorded_sources(con: duckdb.DuckDBPyConnection, quarter: str, step: str) -> list[str] | None:
    """The sources the newest `step` record of the quarter says alone differ between
    work_source_records and source_records, when both tables are still as it saw them (published
    rows: those it compared with; work rows: its result or input). Else None."""
    d = latest_run_details(con, quarter, step)
    if d is None:
        return None
    sources = d.get("publish_sources")
    if sources is None or not d.get("published_digest") or not d.get("result_digest"):
        return None
    if quarter_digest(con, "source_records", quarter) != d["published_digest"]:
        return None
    if quarter_digest(con, "work_source_records", quarter) != d["result_digest"]:
        return None
    return list(sources)


def partial_sources(con: duckdb.DuckDBPyConnection, quarter: str) -> list[str] | None:
    """The sources whose rows alone differ between work_source_records and source_records, as the
    newest resolution run of the quarter (when incremental) or the newest flags run (when scoped)
    recorded them, while both tables are still as it left them; both valid: the sources both name.
    Else None: any source may differ."""
    found = [s for s in (recorded_sources(con, quarter, step) for step in (RESOLUTION_STEP, FLAGS_STEP)) if s is not None]
    if not found:
        return None
    return sorted(set.intersection(*(set(s) for s in found)))

"""Moving the workbench's inbox into the warehouse: decisions into `reviews`, events into `audit_log`.

Idempotent: a decision carries its inbox id (`reviews.import_file` = WEB_SOURCE, `import_row` = the
id) and an event its id in `details.web_event`, and a row already present is not written again, so
a transfer interrupted after the warehouse commit and repeated writes nothing twice. Only appends:
no existing `reviews` or `audit_log` row is changed.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import polars as pl

from matchers.warehouse import register, transaction, unregister

WEB_SOURCE = "核查工作台"  # reviews.import_file of a decision recorded in the workbench

_DECISION_SCHEMA = {
    "id": pl.Int64, "flag_id": pl.String, "quarter": pl.String, "decision": pl.String, "note": pl.String,
    "reviewer": pl.String, "decided_at": pl.Datetime("us"),
}
_EVENT_SCHEMA = {
    "id": pl.Int64, "logged_at": pl.Datetime("us"), "action": pl.String, "quarter": pl.String,
    "district": pl.String, "file": pl.String, "sha256": pl.String, "actor": pl.String, "rows": pl.Int32,
    "details": pl.String,
}

INSERT_DECISIONS = """
INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at, quarter, import_file, import_row)
SELECT n.flag_id, n.decision, n.note, n.reviewer, n.decided_at, n.quarter, $source, n.id
FROM wb_new_decisions AS n
WHERE NOT EXISTS (SELECT 1 FROM reviews AS r WHERE r.import_file = $source AND r.import_row = n.id)
ORDER BY n.id
"""

# flags.review_status shows the latest decision, as after a workbook import.
UPDATE_STATUS = """
UPDATE flags SET review_status = l.decision
FROM latest_reviews AS l
WHERE flags.flag_id = l.flag_id AND l.flag_id IN (SELECT flag_id FROM wb_new_decisions)
"""

INSERT_EVENTS = """
INSERT INTO audit_log (logged_at, action, quarter, district, file, sha256, actor, rows, details)
SELECT n.logged_at, n.action, n.quarter, n.district, n.file, n.sha256, n.actor, n.rows, n.details::JSON
FROM wb_new_events AS n
WHERE NOT EXISTS (
    SELECT 1 FROM audit_log AS a WHERE CAST(a.details->>'web_event' AS BIGINT) = n.id
)
ORDER BY n.id
"""


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _events_frame(events: list[dict]) -> pl.DataFrame:
    rows = []
    for e in events:
        details = json.loads(e.get("details") or "{}")
        details["web_event"] = e["id"]
        rows.append({**{k: e.get(k) for k in _EVENT_SCHEMA}, "logged_at": _parse_time(e["logged_at"]),
                     "details": json.dumps(details, ensure_ascii=False)})
    return pl.DataFrame(rows, schema=_EVENT_SCHEMA)


def record(con: duckdb.DuckDBPyConnection, decisions: list[dict], events: list[dict]) -> tuple[int, int]:
    """Append inbox decisions and events not yet in the warehouse, in one transaction; returns how
    many of each were written. Each dict is an inbox row (`web.store`)."""
    new_decisions = pl.DataFrame(
        [{**{k: d.get(k) for k in _DECISION_SCHEMA}, "decided_at": _parse_time(d["decided_at"])} for d in decisions],
        schema=_DECISION_SCHEMA,
    )
    register(con, "wb_new_decisions", new_decisions)
    register(con, "wb_new_events", _events_frame(events))
    try:
        with transaction(con):
            (n_decisions,) = con.execute(INSERT_DECISIONS, {"source": WEB_SOURCE}).fetchone()
            if n_decisions:
                con.execute(UPDATE_STATUS).fetchall()
            (n_events,) = con.execute(INSERT_EVENTS).fetchone()
    finally:
        unregister(con, "wb_new_decisions")
        unregister(con, "wb_new_events")
    return int(n_decisions), int(n_events)

"""Private files and the audit trail shared by the workbook and report writers."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import warnings
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from matchers.quarters import parse_quarter as check_quarter

from .labels import REPORT_DEADLINE_DAY

INSERT_AUDIT = """
INSERT INTO audit_log (logged_at, action, quarter, district, file, sha256, actor, rows, details)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\s]+')


def report_deadline(quarter: str) -> date:
    """Districts report by the 12th of the quarter's last month (2026Q3 → 2026-09-12)."""
    year, q = check_quarter(quarter)
    return date(year, 3 * q, REPORT_DEADLINE_DAY)


def safe_part(text: str) -> str:
    """A district name as a file-name part (no separators or spaces)."""
    return _UNSAFE_FILENAME.sub("_", str(text)).strip("_") or "_"


def private_dir(path: Path) -> Path:
    """Create `path` and any missing parents readable by their owner only (0700)."""
    old = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    return path


def write_private(path: Path, data: bytes) -> str:
    """Write `data` to `path` readable by its owner only (0600), atomically. Returns the sha256."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return hashlib.sha256(data).hexdigest()


def layout_digest(files: list[Path | str], labels: object, versions: dict[str, str]) -> str:
    """A digest of what shapes an export besides the warehouse's data: the code that lays it out
    (`files`), the labels it shows and the versions of the libraries that write it. Part of every
    content digest, so a change to any of them rebuilds every file once."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    h.update(json.dumps([labels, versions], ensure_ascii=False, sort_keys=True, default=str).encode())
    return h.hexdigest()


def exports_with_content(con: duckdb.DuckDBPyConnection, action: str, quarter: str,
                         digests: dict[str, str]) -> dict[str, list[tuple[str, dict]]]:
    """district → [(sha256, details)] of the `action` audit rows of `quarter` that recorded the
    district's content digest `digests[district]`: the files an earlier export wrote from the same
    content. A file on disk whose sha256 is among them is still right, whenever it was written."""
    if not digests:
        return {}
    rows = con.execute(
        """
        SELECT district, sha256, CAST(details AS VARCHAR)
        FROM audit_log
        WHERE action = $action AND quarter = $quarter AND sha256 IS NOT NULL
          AND json_extract_string(details, '$.content') IN (SELECT unnest($digests))
        """,
        {"action": action, "quarter": quarter, "digests": sorted(set(digests.values()))},
    ).fetchall()
    out: dict[str, list[tuple[str, dict]]] = {}
    for district, sha, details in rows:
        parsed = json.loads(details)
        if parsed.get("content") == digests.get(district):
            out.setdefault(district, []).append((sha, parsed))
    return out


def default_actor() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers)
        return None


def audit(
    con: duckdb.DuckDBPyConnection,
    *,
    action: str,
    quarter: str | None,
    district: str | None,
    file: Path | str | None,
    sha256: str | None,
    actor: str | None,
    rows: int | None,
    details: dict | None = None,
    at: datetime | None = None,
) -> None:
    con.execute(
        INSERT_AUDIT,
        [
            at or datetime.now(),
            action,
            quarter,
            district,
            Path(file).name if file is not None else None,
            sha256,
            actor if actor is not None else default_actor(),
            rows,
            json.dumps(details or {}, ensure_ascii=False, default=str),
        ],
    ).fetchall()


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()
    return bool(rows[0][0])


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> pl.DataFrame:
    """A query's result as a polars frame.

    Through `execute`, which (unlike `con.sql`) does not refuse to run while an earlier result on
    the connection is unfinished (the migration step leaves one behind).
    """
    result = con.execute(sql, params or [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Arrow output on a DB-API result makes an extra copy"
        return pl.from_arrow(result.to_arrow_table())

"""Private files and the audit trail shared by the workbook and report writers."""

from __future__ import annotations

import errno
import getpass
import hashlib
import json
import os
import re
import warnings
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from matchers.private_files import private_dir
from matchers.quarters import parse_quarter as check_quarter
from matchers.warehouse import transaction

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


def deadline_passed(quarter: str, on: date) -> bool:
    """Whether the quarter's feedback deadline is before `on` (the day a list or report is made)."""
    return on > report_deadline(quarter)


def safe_part(text: str) -> str:
    """A district name as a file-name part (no separators or spaces)."""
    return _UNSAFE_FILENAME.sub("_", str(text)).strip("_") or "_"


class ExportError(RuntimeError):
    """An export file could not be written; the message (Chinese) names the folder and what to do."""


_WRITE_PROBLEMS = {
    errno.ENOSPC: "磁盘空间已满",
    errno.EDQUOT: "磁盘配额已用完",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.EROFS: "磁盘是只读的",
}


def export_error(folder: Path, exc: OSError) -> ExportError:
    what = _WRITE_PROBLEMS.get(exc.errno, f"系统错误码 {exc.errno}")
    return ExportError(
        f"无法在导出文件夹 {folder} 中写入文件({what})。数据仓库中的比对结果不受影响,只是核查名单或报表没有写完:"
        "请清理该文件夹所在磁盘或检查权限后重新运行 make run,下次运行会重新生成所有没有写好的文件"
    )


@contextmanager
def failure_recorded(con: duckdb.DuckDBPyConnection, *, action: str, quarter: str, actor: str | None,
                     at: datetime):
    """Record an ExportError raised inside as an `action` audit row (its message), then re-raise:
    the next export finds it (last_export_failure) and says that it repeats the failed one."""
    try:
        yield
    except ExportError as exc:
        with transaction(con):
            audit(con, action=action, quarter=quarter, district=None, file=None, sha256=None, actor=actor,
                  rows=None, at=at, details={"message": str(exc)})
        raise


def write_private(path: Path, data: bytes) -> str:
    """Write `data` to `path` readable by its owner only (0600), atomically. Returns the sha256.
    A file that cannot be written raises ExportError (Chinese, naming the folder); no partial
    file is left."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        private_dir(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise export_error(path.parent, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def last_export_failure(con: duckdb.DuckDBPyConnection, quarter: str, action: str, failed_action: str
                        ) -> str | None:
    """The message of the quarter's last `action` export when it failed (its `failed_action` audit
    row is the latest of the two), else None."""
    row = con.execute(
        "SELECT action, details->>'$.message' FROM audit_log WHERE quarter = ? AND action IN (?, ?)"
        " ORDER BY logged_at DESC LIMIT 1",
        [quarter, action, failed_action],
    ).fetchone()
    return row[1] if row and row[0] == failed_action else None


def remove_stale(folder: Path, pattern: str, keep: set[Path]) -> list[Path]:
    """Remove the files of `folder` matching `pattern` that are not in `keep` (the export's own):
    the files of a district that no longer has anything to show. Returns what was removed."""
    removed = []
    if folder.is_dir():
        for old in sorted(folder.glob(pattern)):
            if old not in keep:
                try:
                    old.unlink()
                except OSError as exc:
                    raise export_error(folder, exc) from exc
                removed.append(old)
    return removed


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

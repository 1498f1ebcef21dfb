"""Which sources of a quarter changed since they were last loaded (content hash, not mtime)."""

from __future__ import annotations

from pathlib import Path

from matchers.contract import SOURCES
from matchers.extract_reader import file_sha256, source_files

Fingerprint = dict[str, dict[str, str]]  # source → {file name: sha256}


def fingerprint(extracts_dir: str | Path, quarter: str) -> Fingerprint:
    """The content hashes of every source's files in the quarter folder as it is now."""
    return {
        s: {p.name: file_sha256(p) for p in source_files(extracts_dir, quarter, s)} for s in SOURCES
    }


def loaded_fingerprint(con, quarter: str) -> Fingerprint:
    """The hashes recorded in `stg_files` by the last successful load of each source."""
    out: Fingerprint = {s: {} for s in SOURCES}
    for source, name, sha in con.execute(
        "SELECT source, source_file, sha256 FROM stg_files WHERE quarter = ?", [quarter]
    ).fetchall():
        out.setdefault(source, {})[name] = sha
    return out


def changed_sources(now: Fingerprint, before: Fingerprint) -> list[str]:
    """Sources whose set of files or any file's content differs (a vanished file counts too)."""
    return [s for s in SOURCES if now.get(s, {}) != before.get(s, {})]

"""The pages read a private copy of the published warehouse, never the file a run writes.

DuckDB lets one process write a database file, and a process holding it open even read-only keeps
a run from opening it. So the workbench copies the warehouse file while no run holds the writer
lock, checks the file did not change while it copied, adds its page tables to the copy
(`matchers.workbench.snapshot_tables`) and serves from the copy read-only. A run is never waited
for and never made to wait: while one writes, the pages keep the last copy. Copies are made per
process (uvicorn workers each keep theirs) and the older ones are removed.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from matchers import warehouse
from matchers.workbench.snapshot_tables import prepare


@dataclass(frozen=True)
class Snapshot:
    con: duckdb.DuckDBPyConnection
    path: Path
    signature: tuple
    taken_at: str  # ISO time the copy began: inbox rows transferred before it are in the copy
    # Answers that only change with the copy (quarters, filter choices), kept for its lifetime.
    cache: dict = field(default_factory=dict, compare=False, repr=False)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.con.cursor()

    def remember(self, key: tuple, compute):
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


def file_signature(path: Path) -> tuple:
    """What changes whenever the warehouse file (or its write-ahead log) is written."""
    out = []
    for p in (path, Path(str(path) + ".wal")):
        try:
            st = p.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append(None)
    return tuple(out)


def writer_busy(path: Path) -> bool:
    """Whether a run (or an import) holds the warehouse's writer lock right now."""
    lock = warehouse.WriterLock(path)
    try:
        lock.acquire(wait_seconds=0)
    except warehouse.WarehouseBusy:
        return True
    lock.release()
    return False


# After the workbench's own transfer of inbox rows (which the pages already show from the inbox),
# the copy is renewed at most this often; any other change of the warehouse renews it at once.
OWN_CHANGES_COPY_SECONDS = 600.0


class SnapshotManager:
    def __init__(self, warehouse_path: str | os.PathLike, snapshot_dir: str | os.PathLike):
        self.warehouse_path = Path(warehouse_path)
        self.dir = Path(snapshot_dir)
        self._current: Snapshot | None = None
        self._previous: Snapshot | None = None
        self._own_signature: tuple | None = None  # the file as the workbench's own transfer left it
        self._taken = 0.0  # monotonic time of the current copy
        self._lock = threading.Lock()

    def own_write(self, before: tuple) -> None:
        """The workbench has just appended inbox rows; `before`: the file's signature before that.
        When the copy was current then, the new state differs from it only by rows the pages show
        from the inbox anyway."""
        if self._current is not None and self._current.signature == before:
            self._own_signature = file_signature(self.warehouse_path)

    @property
    def current(self) -> Snapshot | None:
        return self._current

    def refresh(self, force: bool = False) -> bool:
        """Take a new copy when the warehouse changed and no run is writing; True when it did."""
        with self._lock:
            if not self.warehouse_path.exists():
                return False
            sig = file_signature(self.warehouse_path)
            if not force and self._current is not None and self._current.signature == sig:
                return False
            if not force and sig == self._own_signature and self._age() < OWN_CHANGES_COPY_SECONDS:
                return False
            if writer_busy(self.warehouse_path):
                return False
            taken_at = datetime.now().isoformat(sep=" ", timespec="microseconds")
            target = self.dir / f"snapshot-{os.getpid()}-{time.time_ns()}.duckdb"
            if not self._copy(target, sig):
                return False
            con = duckdb.connect(str(target), config=warehouse.duckdb_config())
            try:
                prepare(con)
            finally:
                con.close()
            fresh = Snapshot(duckdb.connect(str(target), read_only=True, config=warehouse.duckdb_config()),
                             target, sig, taken_at)
            self._retire(self._previous)
            self._previous, self._current = self._current, fresh
            self._own_signature = None
            self._taken = time.monotonic()
            return True

    def _age(self) -> float:
        return time.monotonic() - self._taken

    def _copy(self, target: Path, sig: tuple) -> bool:
        """Copy the warehouse (and a write-ahead log left by a finished run); False when it changed
        meanwhile (the copy is then dropped and retried on a later refresh)."""
        old = os.umask(0o077)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.warehouse_path, target)
            wal = Path(str(self.warehouse_path) + ".wal")
            if sig[1] is not None and wal.exists():
                shutil.copyfile(wal, Path(str(target) + ".wal"))
        finally:
            os.umask(old)
        if file_signature(self.warehouse_path) == sig and not writer_busy(self.warehouse_path):
            return True
        _remove(target)
        return False

    def _retire(self, snap: Snapshot | None) -> None:
        if snap is None:
            return
        snap.con.close()
        _remove(snap.path)

    def close(self) -> None:
        with self._lock:
            self._retire(self._previous)
            self._retire(self._current)
            self._previous = self._current = None


def _remove(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)

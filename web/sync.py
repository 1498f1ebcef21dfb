"""The short writer step: the inbox into the warehouse, when no run is writing.

It takes the warehouse's writer lock without waiting (a run that holds it is left alone; the inbox
waits for the next try), appends the inbox rows not yet transferred (`matchers.workbench.recording`,
idempotent) and marks them transferred in the web store. It holds the lock for a fraction of a
second, well inside the few seconds a starting run waits for it.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from matchers import warehouse
from matchers.workbench.recording import record

from .store import Store


@contextmanager
def warehouse_writer(path: Path):
    """A writable warehouse connection under the writer lock; raises WarehouseBusy at once when a
    run holds the lock."""
    lock = warehouse.WriterLock(path)
    lock.acquire(wait_seconds=0, holder="核查工作台")
    try:
        con = warehouse.connect(path)
        try:
            yield con
        finally:
            con.close()
    finally:
        lock.release()


def transfer_inbox(store: Store, warehouse_path: Path, con=None) -> tuple[int, int] | None:
    """Move pending inbox rows into the warehouse; (decisions, events) written, or None when a run
    holds the warehouse (or it does not exist yet). `con`: an open writer connection to use."""
    decisions, events = store.pending("inbox_decisions"), store.pending("inbox_audit")
    if not decisions and not events:
        return 0, 0
    if con is not None:
        written = record(con, decisions, events)
    else:
        if not Path(warehouse_path).exists():
            return None
        try:
            with warehouse_writer(warehouse_path) as con:
                written = record(con, decisions, events)
        except warehouse.WarehouseBusy:
            return None
    at = datetime.now().isoformat(sep=" ", timespec="microseconds")
    store.mark_transferred("inbox_decisions", [d["id"] for d in decisions], at)
    store.mark_transferred("inbox_audit", [e["id"] for e in events], at)
    return written

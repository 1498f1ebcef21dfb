"""Resources the assets use. Paths come from environment variables with project defaults."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource, Failure, InitResourceContext
from pydantic import PrivateAttr

from matchers import warehouse

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_extracts_dir() -> str:
    return os.environ.get("EXTRACTS_DIR") or str(PROJECT_ROOT / "sample_data" / "extracts")


def default_warehouse_path() -> str:
    return os.environ.get("WAREHOUSE_PATH") or str(PROJECT_ROOT / "data" / "warehouse.duckdb")


def default_exports_dir() -> str:
    return os.environ.get("EXPORTS_DIR") or str(Path(default_warehouse_path()).parent / "exports")


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file (one writer at a time) and the folders around it."""

    path: str
    extracts_dir: str
    exports_dir: str
    # How long a run waits for another run that is writing the warehouse before it stops.
    lock_wait_seconds: float = 5.0

    _lock: warehouse.WriterLock | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """A run holds the writer lock from its first step to its last (DuckDB has one writer)."""
        lock = warehouse.WriterLock(self.path)
        run_id = context.run_id if context.dagster_run else ""
        try:
            lock.acquire(self.lock_wait_seconds, holder=run_id or "")
        except warehouse.WarehouseBusy as exc:
            raise Failure(description=str(exc)) from exc
        self._lock = lock

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @contextmanager
    def connect(self, read_only: bool = False):
        con = warehouse.connect(self.path, read_only=read_only)
        try:
            yield con
        finally:
            con.close()

    @property
    def data_dir(self) -> Path:
        return Path(self.path).parent

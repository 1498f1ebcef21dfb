"""The workbench's state for one process: settings, the web store, the warehouse copy and the
background step that keeps them in step with the warehouse."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from assets.resources import default_exports_dir, default_extracts_dir, default_warehouse_path
from matchers.workbench.queries import Scope

from .accounts import Officer
from .snapshot import Snapshot, SnapshotManager, file_signature
from .store import Store
from .sync import transfer_inbox

# How often the background step tries to move the inbox into the warehouse and to take a new copy.
SYNC_SECONDS_ENV, DEFAULT_SYNC_SECONDS = "WEB_SYNC_SECONDS", 15.0


@dataclass
class Settings:
    warehouse_path: Path
    extracts_dir: Path
    exports_dir: Path
    web_dir: Path  # the web store, warehouse copies and uploads waiting for confirmation
    secure_cookies: bool = False  # set behind an HTTPS reverse proxy
    sync_seconds: float = DEFAULT_SYNC_SECONDS

    @classmethod
    def from_environment(cls) -> "Settings":
        wh = Path(default_warehouse_path())
        return cls(
            warehouse_path=wh,
            extracts_dir=Path(default_extracts_dir()),
            exports_dir=Path(default_exports_dir()),
            web_dir=Path(os.environ.get("WEB_DIR") or wh.parent / "web"),
            secure_cookies=os.environ.get("WEB_SECURE_COOKIES", "") == "1",
            sync_seconds=float(os.environ.get(SYNC_SECONDS_ENV) or DEFAULT_SYNC_SECONDS),
        )

    @property
    def store_path(self) -> Path:
        return self.web_dir / "workbench.sqlite3"


@dataclass
class Workbench:
    settings: Settings
    store: Store = field(init=False)
    snapshots: SnapshotManager = field(init=False)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.store = Store(self.settings.store_path)
        self.snapshots = SnapshotManager(self.settings.warehouse_path, self.settings.web_dir / "snapshots")

    def sync_now(self) -> None:
        """Move the inbox into the warehouse if it is free, then take a new copy if it changed."""
        before = file_signature(self.settings.warehouse_path)
        written = transfer_inbox(self.store, self.settings.warehouse_path)
        if written and any(written):
            self.snapshots.own_write(before)
        self.snapshots.refresh()

    def start(self) -> None:
        self.sync_now()
        self._thread = threading.Thread(target=self._loop, name="workbench-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.sync_seconds):
            try:
                self.sync_now()
            except Exception as exc:  # keep serving the last copy; say why in the server log
                print(f"核查工作台:同步仓库失败({type(exc).__name__}: {exc}),稍后重试")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.snapshots.close()

    @property
    def snapshot(self) -> Snapshot | None:
        return self.snapshots.current

    def scope(self, officer: Officer) -> Scope:
        """The officer's area, with the inbox decisions the current copy does not hold yet."""
        snap = self.snapshot
        inbox: dict[str, str] = {}
        for d in self.store.decisions_since(snap.taken_at if snap else None):
            inbox[d["flag_id"]] = d["decision"]  # ordered by id: the last recorded wins
        return Scope(**officer.scope, inbox=inbox)

"""One writer at a time: the warehouse's writer lock."""

from __future__ import annotations

import os
from pathlib import Path

from matchers.private_files import owner_only


class WarehouseBusy(Exception):
    """Another run is writing the warehouse; the message is Chinese and says what to do."""


class WriterLock:
    """One writer at a time: an exclusive lock on `<warehouse>.lock`, held for a whole run.

    The operating system releases it when the process ends, even when killed, so a crashed run
    never leaves the warehouse locked.
    """

    def __init__(self, warehouse_path: str | os.PathLike):
        self.path = Path(str(warehouse_path) + ".lock")
        self._fh = None

    def acquire(self, wait_seconds: float = 0.0, holder: str = "") -> None:
        import fcntl
        import json
        import time

        with owner_only():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    info = fh.read().strip()
                    fh.close()
                    try:
                        who = json.loads(info) if info else {}
                    except ValueError:
                        who = {}
                    since = who.get("since", "未知时间")
                    raise WarehouseBusy(
                        f"另一个比对作业正在写入仓库 {self.path.with_suffix('')}"
                        f"(进程 {who.get('pid', '?')},开始于 {since}),本次运行未做任何修改。"
                        "请等它结束后再运行。"
                    ) from None
                time.sleep(0.2)
        fh.seek(0)
        fh.truncate()
        import datetime as dt

        fh.write(json.dumps({"pid": os.getpid(), "since": dt.datetime.now().isoformat(timespec="seconds"), "run": holder}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        import fcntl

        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

"""Planning a refresh: which assets of which quarter need re-running because extract files changed."""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from dagster import AssetKey

from assets.extracts import extract_asset_key
from matchers.contract import SOURCE_LABELS, SOURCES
from matchers.extract_changes import changed_sources, fingerprint, loaded_fingerprint
from matchers.extract_reader import file_sha256, list_quarters, source_files

# Files modified less than this long ago may still be being copied: the sensor waits for them.
SETTLE_SECONDS = 30


@dataclass
class RefreshPlan:
    quarter: str
    changed: list[str] = field(default_factory=list)
    message: str = ""

    @property
    def has_work(self) -> bool:
        return bool(self.changed)

    def describe(self) -> str:
        return "、".join(f"{SOURCE_LABELS[s]}({s})" for s in self.changed)


def downstream_asset_keys(asset_defs) -> list[AssetKey]:
    """Every asset after ingestion (resolution, flags, reports): what a changed source feeds."""
    extract_keys = {AssetKey(extract_asset_key(s)) for s in SOURCES}
    keys = []
    for a in asset_defs:
        for k in a.keys:
            if k not in extract_keys:
                keys.append(k)
    return keys


def refresh_selection(plan: RefreshPlan, asset_defs) -> list[AssetKey]:
    return [AssetKey(extract_asset_key(s)) for s in plan.changed] + downstream_asset_keys(asset_defs)


def plan_nightly_refresh(extracts_dir: str, warehouse_path: str, quarter: str) -> RefreshPlan:
    """Compare the quarter folder's files with the hashes of the last load in the warehouse."""
    import duckdb

    now = fingerprint(extracts_dir, quarter)
    if not Path(warehouse_path).exists():
        changed = [s for s in SOURCES if now[s]]
        return RefreshPlan(quarter, changed, f"{quarter} 尚未导入过,全部导入")
    try:
        con = duckdb.connect(warehouse_path, read_only=True)
    except duckdb.Error as exc:
        return RefreshPlan(quarter, [], f"仓库文件正被其他运行占用,本次跳过({type(exc).__name__})")
    try:
        before = loaded_fingerprint(con, quarter)
    except duckdb.Error:
        before = {s: {} for s in SOURCES}
    finally:
        con.close()
    changed = changed_sources(now, before)
    if not changed:
        return RefreshPlan(quarter, [], f"夜间刷新:{quarter} 各部门文件自上次导入以来均无变化,无需重新计算")
    plan = RefreshPlan(quarter, changed)
    plan.message = f"夜间刷新:{quarter} 有变化的部门:{plan.describe()}"
    return plan


# ---- the sensor's view: cheap stat first, hash only what moved --------------------------------

SensorState = dict[str, dict[str, dict[str, list]]]  # quarter → source → file → [size, mtime_ns, sha]


def scan_extracts(extracts_dir: str, previous: SensorState, settle_seconds: int = SETTLE_SECONDS):
    """Return (state now, quarters whose files changed → changed sources, files still settling).

    Files unchanged in size and mtime keep their recorded hash; others are hashed. A file touched
    within `settle_seconds` is left for the next tick (it may still be being copied).
    """
    state: SensorState = {}
    changes: dict[str, list[str]] = {}
    settling: list[str] = []
    now = time.time()
    for quarter in list_quarters(extracts_dir):
        prev_q = previous.get(quarter, {})
        state[quarter] = {}
        for source in SOURCES:
            prev_s = prev_q.get(source, {})
            cur: dict[str, list] = {}
            for p in source_files(extracts_dir, quarter, source):
                st = p.stat()
                if now - st.st_mtime < settle_seconds:
                    settling.append(f"{quarter}/{p.name}")
                    if p.name in prev_s:
                        cur[p.name] = prev_s[p.name]
                    continue
                old = prev_s.get(p.name)
                if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                    cur[p.name] = old
                else:
                    cur[p.name] = [st.st_size, st.st_mtime_ns, file_sha256(p)]
            state[quarter][source] = cur
            if {k: v[2] for k, v in cur.items()} != {k: v[2] for k, v in prev_s.items()}:
                changes.setdefault(quarter, []).append(source)
    return state, changes, settling


def state_digest(state_for_quarter: dict) -> str:
    blob = json.dumps(
        {s: {f: v[2] for f, v in files.items()} for s, files in state_for_quarter.items()}, sort_keys=True
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def current_quarter(extracts_dir: str) -> str | None:
    quarters = list_quarters(extracts_dir)
    return quarters[-1] if quarters else None


def env_extracts_dir() -> str:
    from assets.resources import default_extracts_dir

    return os.environ.get("EXTRACTS_DIR") or default_extracts_dir()

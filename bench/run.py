"""City-scale benchmark: the whole quarterly job on generated data, the nightly refresh of
one changed source, and Splink beside our resolution on the same rows.

    make bench                                             # 300,000 households (~1M persons)
    make bench BENCH_ARGS="--households 100000 --reuse"
    python -m bench.run --households 10000 --skip-splink
    python -m bench.run --households 300000 --curve 10000,100000,300000
    python -m bench.run --households 100000 --reuse --skip-splink --profile   # cProfile per stage

Steps, each measured in a fresh child process (so peak RSS is the pipeline's own; the parent samples
the RSS of the child's process tree every 0.2 s and the child reports its own ru_maxrss):
1. Generate two quarters with `sample_data.generate` (timed apart; not part of the pipeline figures).
2. Run the quarterly job for the earlier quarter into a fresh warehouse (the persons index and the
   previous quarter's flags exist afterwards, as in production), then the full job for the latest
   quarter: the measured full run. Stage times come from the STEP_START/STEP_SUCCESS events.
3. Rewrite one housing file with one row changed, plan the nightly refresh and run its selection
   (`pipelines.refresh`); the file is restored afterwards.
4. `bench.splink_compare.compare` on the latest quarter: Splink and `resolve_quarter` on the same
   normalised rows, pairwise precision/recall against the generator's truth.
Results: one table on stdout, `<work-dir>/results_<households>.json` and `.md`.

DuckDB runs with DUCKDB_MEMORY_LIMIT (--memory-limit, default 4GB) and DUCKDB_TEMP_DIR
(<work-dir>/duckdb_tmp); see `matchers.warehouse.connect`.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUARTERS = ["2026Q2", "2026Q3"]
STAGES = ("ingest", "resolve", "flags", "exports")
# Targets for 300,000 households on this machine (2 cores, 24 GB).
TARGET_FULL_SECONDS = 180.0
TARGET_PEAK_MB = 6 * 1024
TARGET_REFRESH_RATIO = 0.25
TARGET_SPLINK_SPEEDUP = 3.0
SAMPLE_SECONDS = 0.2


def stage_of(step_key: str) -> str:
    """The benchmark stage a Dagster step belongs to (asset checks count with their asset's stage)."""
    if step_key.startswith("extract_"):
        return "ingest"
    if step_key.startswith("source_records") or step_key.startswith("probabilistic_share"):
        return "resolve"
    if step_key.startswith("flags") or step_key.startswith("rule_counts"):
        return "flags"
    if step_key.startswith(("district_workbooks", "quarterly_report")):
        return "exports"
    return "other"


# ---- child processes ---------------------------------------------------------------------------


def _step_windows(instance, run_id: str) -> list[dict]:
    """Per step: start and end (epoch seconds) from the run's event log."""
    steps: dict[str, dict] = {}
    for entry in instance.all_logs(run_id):
        ev = entry.dagster_event
        if ev is None or not ev.step_key:
            continue
        kind = ev.event_type_value
        if kind == "STEP_START":
            steps.setdefault(ev.step_key, {"step": ev.step_key})["start"] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            s = steps.setdefault(ev.step_key, {"step": ev.step_key})
            s["end"] = entry.timestamp
            s["ok"] = kind == "STEP_SUCCESS"
    out = []
    for s in steps.values():
        if "start" in s and "end" in s:
            out.append({**s, "seconds": round(s["end"] - s["start"], 3), "stage": stage_of(s["step"])})
    return sorted(out, key=lambda s: s["start"])


def _stage_selections(all_assets) -> dict[str, list]:
    from dagster import AssetKey

    keys = [k for a in all_assets for k in a.keys]
    return {stage: [k for k in keys if stage_of(k.path[-1]) == stage] for stage in STAGES} | {
        "_all": [AssetKey(k.path) for k in keys]
    }


def child_job(spec: dict) -> dict:
    """Run the quarterly job (full, or the nightly refresh selection) and report step windows."""
    import resource

    import duckdb
    from dagster import DagsterInstance

    from assets.partitions import QUARTER_PARTITIONS_NAME
    from assets.resources import WarehouseResource
    from pipelines.definitions import QUARTERLY_JOB_NAME, build_definitions
    from pipelines.jobs import all_assets
    from pipelines.refresh import plan_nightly_refresh, refresh_selection

    quarter = spec["quarter"]
    wh = WarehouseResource(path=spec["warehouse"], extracts_dir=spec["extracts"], exports_dir=spec["exports"],
                           lock_wait_seconds=60)
    defs = build_definitions(wh)
    job = defs.resolve_job_def(QUARTERLY_JOB_NAME)
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    report: dict = {"quarter": quarter, "mode": spec["mode"]}
    t_plan = time.time()
    if spec["mode"] == "refresh":
        plan = plan_nightly_refresh(spec["extracts"], spec["warehouse"], quarter)
        report["refresh_changed"] = plan.changed
        report["refresh_plan_seconds"] = round(time.time() - t_plan, 3)
        runs = [("refresh", refresh_selection(plan, all_assets))] if plan.has_work else []
    elif spec.get("profile"):
        sel = _stage_selections(all_assets)
        runs = [(stage, sel[stage]) for stage in STAGES]  # one run per stage, each under cProfile
    else:
        runs = [("full", None)]
    steps: list[dict] = []
    t0 = time.time()
    ok = True
    for label, selection in runs:
        profiler = None
        if spec.get("profile"):
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        result = job.execute_in_process(instance=instance, partition_key=quarter, asset_selection=selection,
                                        raise_on_error=False)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(f"{spec['profile']}_{label}.prof")
        ok = ok and result.success
        steps += _step_windows(instance, result.run_id)
        if not result.success:
            report["failures"] = [
                str(e.event_specific_data.error.message)[:500] if getattr(e.event_specific_data, "error", None) else e.message
                for e in result.all_events if e.event_type_value == "STEP_FAILURE"
            ]
            break
    report.update(success=ok, t_start=t0, t_end=time.time(), job_seconds=round(time.time() - t0, 3), steps=steps,
                  self_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    con = duckdb.connect(spec["warehouse"], read_only=True)
    try:
        report["rows"] = {
            "extract_data_rows": con.execute("SELECT coalesce(sum(data_rows), 0) FROM stg_files WHERE quarter = ?",
                                             [quarter]).fetchone()[0],
            "extract_data_rows_by_source": dict(con.execute(
                "SELECT source, sum(data_rows) FROM stg_files WHERE quarter = ? GROUP BY source", [quarter]
            ).fetchall()),
            "records": con.execute("SELECT count(*) FROM source_records WHERE quarter = ?", [quarter]).fetchone()[0],
            "persons": con.execute("SELECT count(*) FROM persons").fetchone()[0],
            "flags": con.execute("SELECT count(*) FROM flags WHERE quarter = ?", [quarter]).fetchone()[0],
        }
        # how the resolve step of this run resolved (全量匹配 / 增量匹配) and how many rows it re-resolved
        logged = con.execute(
            "SELECT details FROM run_log WHERE quarter = ? AND step = 'resolution' AND started_at >= ? "
            "ORDER BY finished_at DESC LIMIT 1",
            [quarter, datetime.datetime.fromtimestamp(t0)],
        ).fetchall()
        if logged:
            d = json.loads(logged[0][0]) if isinstance(logged[0][0], str) else logged[0][0]
            report["resolution"] = {k: d.get(k) for k in ("mode", "reason", "rows_resolved", "changed_sources")}
    finally:
        con.close()
    return report


def child_splink(spec: dict) -> dict:
    from bench.splink_compare import compare

    return compare(Path(spec["extracts"]), Path(spec["truth"]), spec["quarter"])


# ---- the parent: subprocesses, RSS sampling ----------------------------------------------------


class TreeSampler(threading.Thread):
    """Samples a process and its descendants every 0.2 s: (epoch, RSS MB, CPU seconds user+system).

    CPU seconds tell a stage's own cost apart from waiting for a CPU other work on the machine holds.
    """

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        while not self._halt.is_set():
            total, cpu = 0, 0.0
            try:
                procs = [root] + root.children(recursive=True)
            except psutil.NoSuchProcess:
                break
            for p in procs:
                try:
                    total += p.memory_info().rss
                    t = p.cpu_times()
                    cpu += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            self.samples.append((time.time(), total / 2**20, cpu))
            self._halt.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def peak(self, start: float | None = None, end: float | None = None) -> float:
        vals = [mb for t, mb, _ in self.samples if (start is None or t >= start) and (end is None or t <= end)]
        return round(max(vals)) if vals else 0

    def cpu(self, start: float, end: float) -> float:
        """CPU seconds the tree used between two moments (nearest samples)."""
        before = [c for t, _, c in self.samples if t <= start]
        after = [c for t, _, c in self.samples if t >= end]
        first = before[-1] if before else (self.samples[0][2] if self.samples else 0.0)
        last = after[0] if after else (self.samples[-1][2] if self.samples else 0.0)
        return round(max(last - first, 0.0), 2)


def code_version() -> str:
    """The commit the run's code is at (`+dirty` when tracked files differ): the tree moves while we measure."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "matchers", "assets",
                                "pipelines", "bench"], cwd=ROOT, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def run_child(kind: str, spec: dict, env: dict, log_path: Path) -> dict:
    """Run `python -m bench.run --child KIND SPEC` and return its JSON report plus RSS figures."""
    out = Path(tempfile.mkstemp(prefix="bench_child_", suffix=".json")[1])
    spec = {**spec, "out": str(out)}
    cmd = [sys.executable, "-m", "bench.run", "--child", kind, json.dumps(spec)]
    t = time.time()
    load_before = os.getloadavg()[0]
    version = code_version()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n==== {kind} {json.dumps(spec, ensure_ascii=False)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop()
    wall = time.time() - t
    if rc != 0 or not out.exists() or not out.stat().st_size:
        raise RuntimeError(f"子进程 {kind} 失败(退出码 {rc}),详见 {log_path}")
    report = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    report["process_seconds"] = round(wall, 2)
    report["code_version"] = version
    report["peak_rss_mb"] = max(sampler.peak(), report.get("self_peak_rss_mb", 0))
    # Other work on the machine inflates wall times: the 1-minute load average around the run says how much.
    report["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if "t_start" in report:
        report["job_cpu_seconds"] = sampler.cpu(report["t_start"], report["t_end"])
    for s in report.get("steps", []):
        s["peak_rss_mb"] = sampler.peak(s["start"] - SAMPLE_SECONDS, s["end"] + SAMPLE_SECONDS)
        s["cpu_seconds"] = sampler.cpu(s["start"], s["end"])
    return report


def summarise_job(report: dict, refresh: bool = False) -> dict:
    """Per stage: wall seconds (sum of its steps), rows per second, peak RSS while it ran."""
    rows = report["rows"]
    stages = {}
    for stage in STAGES:
        steps = [s for s in report["steps"] if s["stage"] == stage]
        if not steps:
            continue
        seconds = sum(s["seconds"] for s in steps)
        if stage == "ingest":  # rows read from the files of the sources it ingested
            srcs = {s["step"].removeprefix("extract_") for s in steps if s["step"].startswith("extract_")}
            n = sum(v for k, v in rows["extract_data_rows_by_source"].items() if k in srcs)
        elif stage == "resolve" and report.get("resolution", {}).get("rows_resolved") is not None:
            n = report["resolution"]["rows_resolved"]  # an incremental refresh re-resolves only these
        else:
            n = rows["records"]
        stages[stage] = {
            "seconds": round(seconds, 2),
            "rows": int(n),
            "rows_per_second": round(n / seconds) if seconds else None,
            "cpu_seconds": round(sum(s.get("cpu_seconds", 0.0) for s in steps), 2),
            "peak_rss_mb": max(s["peak_rss_mb"] for s in steps),
            "steps": {s["step"]: s["seconds"] for s in steps},
            **({"mode": report["resolution"]["mode"], "rows_in_quarter": int(rows["records"])}
               if stage == "resolve" and "resolution" in report else {}),
        }
    return {
        "success": report["success"],
        "job_seconds": report["job_seconds"],
        "job_cpu_seconds": report.get("job_cpu_seconds"),
        "process_seconds": report["process_seconds"],
        "load_average": report.get("load_average"),
        "code_version": report.get("code_version"),
        "peak_rss_mb": report["peak_rss_mb"],
        "stages": stages,
        "rows": rows,
        **({"resolution": report["resolution"]} if "resolution" in report else {}),
        **({"changed": report.get("refresh_changed"), "plan_seconds": report.get("refresh_plan_seconds")}
           if refresh else {}),
        **({"failures": report["failures"]} if "failures" in report else {}),
    }


# ---- data ----------------------------------------------------------------------------------


def ensure_data(work_dir: Path, households: int, seed: int, reuse: bool) -> tuple[Path, dict]:
    data = work_dir / f"data_{households}_{seed}"
    marker = data / "generated.json"
    if reuse and marker.exists():
        return data, {**json.loads(marker.read_text(encoding="utf-8")), "reused": True}
    from sample_data.generate import generate

    print(f"生成 {households} 户数据 → {data}", file=sys.stderr)
    stats = generate(data, households, seed, QUARTERS, log=lambda m: print("  " + m, file=sys.stderr))
    info = {
        "households": households,
        "seed": seed,
        "quarters": QUARTERS,
        "persons": stats["persons"],
        "rows": sum(stats["rows"].values()),
        "rows_by_quarter": {q: sum(n for k, n in stats["rows"].items() if k.startswith(q)) for q in QUARTERS},
        "seconds": round(stats["seconds"], 1),
    }
    marker.write_text(json.dumps(info, ensure_ascii=False, indent=1), encoding="utf-8")
    return data, {**info, "reused": False}


def change_rows(path: Path, share: float | None = None) -> tuple[bytes, int]:
    """Rewrite an extract CSV with names changed (last character): the last data row's only, or
    with `share` every 1/share-th data row's. Returns the original bytes and the rows changed."""
    from matchers.contract import SPECS

    original = path.read_bytes()
    bom = original.startswith(b"\xef\xbb\xbf")
    try:
        text, encoding = original.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = original.decode("gb18030"), "gb18030"
    lines = text.splitlines(keepends=True)
    aliases = set(SPECS[path.name.split("_")[0].split(".")[0]].field("name").aliases)
    header = next((i for i, line in enumerate(lines)
                   if any(c.strip() in aliases for c in next(csv.reader([line]), []))), None)
    if header is None:
        raise RuntimeError(f"{path.name}: 找不到姓名列")
    name_col = next(i for i, c in enumerate(next(csv.reader([lines[header]]))) if c.strip() in aliases)
    if share is None:  # the last row with a name
        candidates = range(len(lines) - 1, header, -1)
    else:
        step = max(int(round(1 / share)), 1)
        candidates = range(header + step, len(lines), step)
    changed = 0
    for i in candidates:
        cells = next(csv.reader([lines[i]]), [])
        if len(cells) > name_col and cells[name_col].strip():
            name = cells[name_col]
            cells[name_col] = name[:-1] + ("明" if name[-1] != "明" else "亮")
            buf = io.StringIO()
            csv.writer(buf, lineterminator="").writerow(cells)
            lines[i] = buf.getvalue() + lines[i][len(lines[i].rstrip("\r\n")):]
            changed += 1
            if share is None:
                break
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(lines).encode(encoding))
    return original, changed


def change_one_row(path: Path) -> bytes:
    """Rewrite an extract CSV with one data row's name changed; returns the original bytes."""
    return change_rows(path)[0]


# ---- measurement -------------------------------------------------------------------------------


def measure(households: int, args, env: dict, full_only: bool) -> dict:
    work_dir: Path = args.work_dir
    data, gen = ensure_data(work_dir, households, args.seed, args.reuse)
    extracts = data / "extracts"
    run_dir = work_dir / f"run_{households}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    log = work_dir / f"log_{households}.txt"
    log.write_text("", encoding="utf-8")
    base = {"warehouse": str(run_dir / "warehouse.duckdb"), "extracts": str(extracts),
            "exports": str(run_dir / "exports")}
    result: dict = {"households": households, "generation": gen, "memory_limit": args.memory_limit}
    prev_q, quarter = QUARTERS[-2], QUARTERS[-1]
    print(f"[{households}] 上一季度 {prev_q} 全量运行(建立人员索引)…", file=sys.stderr)
    result["previous_quarter"] = summarise_job(run_child("job", {**base, "quarter": prev_q, "mode": "full"}, env, log))
    print(f"[{households}] {quarter} 全量运行…", file=sys.stderr)
    full = summarise_job(run_child("job", {**base, "quarter": quarter, "mode": "full"}, env, log))
    result["full"] = full
    _print_stages(f"{households} 户 {quarter} 全量", full)
    if full_only:
        return result
    housing = sorted((extracts / quarter).glob("housing*.csv"))[0]
    # One row changed, then a share of the housing file's rows (each refresh builds on the one
    # before: the file is restored first, so the later ones also undo the earlier change).
    for share in [None, *args.refresh_shares]:
        original, n_changed = change_rows(housing, share)
        what = "改一行" if share is None else f"改 {share:.0%} 的行({n_changed} 行)"
        try:
            print(f"[{households}] 夜间刷新({housing.name} {what})…", file=sys.stderr)
            refresh = summarise_job(run_child("job", {**base, "quarter": quarter, "mode": "refresh"}, env, log), True)
        finally:
            housing.write_bytes(original)
        refresh["changed_file"] = housing.name
        refresh["rows_changed_in_file"] = n_changed
        refresh["ratio_to_full"] = round(refresh["job_seconds"] / full["job_seconds"], 3)
        if share is None:
            result["refresh"] = refresh
        else:
            result.setdefault("refresh_shares", {})[str(share)] = refresh
        _print_stages(f"{households} 户夜间刷新({what})", refresh)
    if args.profile:
        prof = str(work_dir / f"profile_{households}")
        pdir = work_dir / f"run_{households}_profile"
        if pdir.exists():
            shutil.rmtree(pdir)
        pb = {"warehouse": str(pdir / "warehouse.duckdb"), "extracts": str(extracts), "exports": str(pdir / "exports")}
        print(f"[{households}] cProfile 分阶段运行…", file=sys.stderr)
        run_child("job", {**pb, "quarter": prev_q, "mode": "full"}, env, log)
        prof_run = run_child("job", {**pb, "quarter": quarter, "mode": "full", "profile": prof}, env, log)
        result["profile"] = {"files": [f"{prof}_{s}.prof" for s in STAGES], "summary": summarise_job(prof_run)}
        write_profile_text(prof)
    if not args.skip_splink:
        print(f"[{households}] Splink 对比…", file=sys.stderr)
        sp = run_child("splink", {"extracts": str(extracts), "truth": str(data / "truth"), "quarter": quarter}, env, log)
        sp["speedup"] = round(sp["splink"]["seconds"] / sp["ours"]["seconds"], 2) if sp["ours"]["seconds"] else None
        result["splink"] = sp
    return result


def write_profile_text(prefix: str, top: int = 25) -> None:
    import pstats

    with open(f"{prefix}.txt", "w", encoding="utf-8") as fh:
        for stage in STAGES:
            path = f"{prefix}_{stage}.prof"
            if not Path(path).exists():
                continue
            for key in ("tottime", "cumulative"):
                fh.write(f"\n===== {stage} by {key} =====\n")
                pstats.Stats(path, stream=fh).strip_dirs().sort_stats(key).print_stats(top)


# ---- output --------------------------------------------------------------------------------


def _mb(v) -> str:
    return f"{v / 1024:.2f} GB" if v else "-"


def _print_stages(title: str, run: dict) -> None:
    print(f"\n{title}: 作业 {run['job_seconds']:.1f} 秒(CPU {run.get('job_cpu_seconds')} 秒,进程 {run['process_seconds']:.1f} 秒),"
          f"峰值内存 {_mb(run['peak_rss_mb'])},负载 {run.get('load_average')}")
    for stage, s in run["stages"].items():
        print(f"  {stage:8s} {s.get('mode', ''):4s} {s['seconds']:8.1f} 秒  CPU {s.get('cpu_seconds', 0):8.1f} 秒  {s['rows']:>9} 行  "
              f"{s['rows_per_second'] or 0:>9} 行/秒  峰值 {_mb(s['peak_rss_mb'])}")


def _miss(value: float, target: float, lower_is_better: bool = True) -> str:
    ok = value <= target if lower_is_better else value >= target
    if ok:
        return "达标"
    factor = value / target if lower_is_better else target / value
    return f"未达标(差 {factor:.2f} 倍)"


def _stage_row(stage: str, s: dict) -> list[str]:
    if s.get("mode"):
        stage = f"{stage}({s['mode']})"
    return [f"  {stage}", f"{s['seconds']:.1f} 秒(CPU {s.get('cpu_seconds', 0):.1f} 秒)",
            (f"重新匹配 {s['rows']} 行(本季度共 {s['rows_in_quarter']} 行)"
             if s.get("rows_in_quarter") and s["rows"] < s["rows_in_quarter"]
             else f"{s['rows']} 行,{s['rows_per_second'] or 0} 行/秒"),
            f"峰值 {_mb(s['peak_rss_mb'])}"]


def results_table(r: dict) -> list[list[str]]:
    full, rows = r["full"], []
    gen = r["generation"]
    rows.append(["数据", f"{r['households']} 户, {gen['persons']} 人, 本季度 {full['rows']['extract_data_rows']} 行",
                 f"生成 {gen['seconds']} 秒" + ("(复用)" if gen.get("reused") else ""), ""])
    rows.append(["全量运行(作业)", f"{full['job_seconds']:.1f} 秒(CPU {full.get('job_cpu_seconds')} 秒,负载 {full.get('load_average')},"
                 f"代码 {full.get('code_version')})",
                 f"≤ {TARGET_FULL_SECONDS:.0f} 秒",
                 _miss(full["job_seconds"], TARGET_FULL_SECONDS)])
    rows.append(["全量运行峰值内存", _mb(full["peak_rss_mb"]), "≤ 6 GB", _miss(full["peak_rss_mb"], TARGET_PEAK_MB)])
    for stage, s in full["stages"].items():
        rows.append(_stage_row(stage, s))
    refreshes = ([("", r["refresh"])] if "refresh" in r else []) + [
        (f" {float(share):.0%} 的行", rf) for share, rf in r.get("refresh_shares", {}).items()
    ]
    for what, rf in refreshes:
        rows.append([f"夜间刷新({'、'.join(rf.get('changed') or [])}{what},文件中改了 {rf.get('rows_changed_in_file', 1)} 行)",
                     f"{rf['job_seconds']:.1f} 秒",
                     f"全量的 {rf['ratio_to_full'] * 100:.0f}%(≤ 25%)", _miss(rf["ratio_to_full"], TARGET_REFRESH_RATIO)])
        for stage, s in rf["stages"].items():
            rows.append(_stage_row(stage, s))
    if "splink" in r:
        sp = r["splink"]
        o, s = sp["ours"], sp["splink"]
        rows.append(["人员匹配 本项目", f"{o['seconds']:.1f} 秒", f"精确率 {o['precision']:.4f} 召回率 {o['recall']:.4f}", ""])
        rows.append(["人员匹配 Splink", f"{s['seconds']:.1f} 秒", f"精确率 {s['precision']:.4f} 召回率 {s['recall']:.4f}",
                     f"本项目快 {sp['speedup']} 倍(≥ 3 倍):" + _miss(sp["speedup"] or 0, TARGET_SPLINK_SPEEDUP, False)])
        better = o["precision"] >= s["precision"] and o["recall"] >= s["recall"]
        rows.append(["精确率与召回率不低于 Splink", "是" if better else "否", "", "达标" if better else "未达标"])
    return rows


def curve_table(curve: dict[int, dict]) -> list[list[str]]:
    out = []
    for n in sorted(curve):
        full = curve[n]
        st = full["stages"]
        out.append([str(n), str(full["rows"]["extract_data_rows"])] + [f"{st[s]['seconds']:.1f}" if s in st else "-" for s in STAGES]
                   + [f"{full['job_seconds']:.1f}", f"{full.get('job_cpu_seconds')}", _mb(full["peak_rss_mb"])])
    return out


CURVE_HEADER = ["户数", "本季度行数", "ingest 秒", "resolve 秒", "flags 秒", "exports 秒", "作业 秒", "作业 CPU 秒", "峰值内存"]


def markdown(headers: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
                     + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="城市规模基准测试:全量季度作业、夜间刷新、与 Splink 对比")
    ap.add_argument("--households", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=4242)
    ap.add_argument("--work-dir", type=Path, default=ROOT / "bench" / "out")
    ap.add_argument("--reuse", action="store_true", help="已生成的数据存在时不再生成")
    ap.add_argument("--skip-splink", action="store_true")
    ap.add_argument("--curve", default="", help="逗号分隔的户数,每个规模跑一次全量作业,如 10000,100000,300000")
    ap.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit(DUCKDB_MEMORY_LIMIT)")
    ap.add_argument("--refresh-shares", default="0.01,0.1",
                    help="一行之外,再各测一次住建文件改了这些比例的行的夜间刷新(逗号分隔;空串则不测)")
    ap.add_argument("--profile", action="store_true", help="另跑一次分阶段 cProfile,写 <work-dir>/profile_<户数>.txt")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.refresh_shares = [float(x) for x in args.refresh_shares.split(",") if x.strip()]
    if args.child:
        kind, spec = args.child[0], json.loads(args.child[1])
        report = child_job(spec) if kind == "job" else child_splink(spec)
        Path(spec["out"]).write_text(json.dumps(report, ensure_ascii=False, default=str), encoding="utf-8")
        return 0

    args.work_dir = args.work_dir.resolve()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    tmp = args.work_dir / "duckdb_tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "DUCKDB_MEMORY_LIMIT": args.memory_limit, "DUCKDB_TEMP_DIR": str(tmp),
           "DAGSTER_DISABLE_TELEMETRY": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DAGSTER_HOME", None)  # ephemeral instance: the benchmark's runs stay out of the project's history

    sizes = [int(s) for s in args.curve.split(",") if s.strip()]
    curve: dict[int, dict] = {}
    for n in sizes:
        if n != args.households:
            curve[n] = measure(n, args, env, full_only=True)["full"]
    result = measure(args.households, args, env, full_only=False)
    if sizes:
        curve[args.households] = result["full"]
        result["curve"] = {str(n): curve[n] for n in sorted(curve)}

    headers = ["项目", "结果", "对照", "目标"]
    table = results_table(result)
    md = f"# 基准测试:{args.households} 户(DuckDB memory_limit {args.memory_limit},2 核 24 GB)\n\n" + markdown(headers, table)
    if sizes:
        md += "\n## 成本曲线(全量作业,各阶段秒数)\n\n" + markdown(CURVE_HEADER, curve_table(curve))
    stem = args.work_dir / f"results_{args.households}"
    stem.with_suffix(".json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    stem.with_suffix(".md").write_text(md, encoding="utf-8")
    print("\n" + md)
    print(f"结果已写入 {stem}.json 与 {stem}.md")
    return 0 if result["full"]["success"] else 1


if __name__ == "__main__":
    raise SystemExit(main())

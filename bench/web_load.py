"""Load benchmark of the review workbench: many officers at once on loopback.

    python -m bench.web_load --households 300000 --work-dir /tmp/web_bench            # builds once
    python -m bench.web_load --households 300000 --work-dir /tmp/web_bench --reuse    # reuses it

Generates the sample-style extracts (bench.run's generator, two quarters), runs the quarterly job
for both quarters into a warehouse (once; --reuse keeps it), starts `python -m web` (uvicorn, one
worker) in a child process, logs in `--clients` district officers and the city administrator, then
lets the clients (httpx async, one session each; each waits a random 0–2×`--think` seconds between
requests, as an officer reads a page) issue `--requests` requests in all, alternating the work list (random filters, search, sort and page) and household pages taken from the list. Reports
p50/p95/max latency per page kind as seen by the clients and the server process's CPU seconds.
The server and clients share the machine, so the figures include the clients' own CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"
TARGET_P95_MS = 300.0


def build_warehouse(work_dir: Path, households: int, seed: int, reuse: bool) -> tuple[Path, Path]:
    from bench.run import QUARTERS, ensure_data

    data, _ = ensure_data(work_dir, households, seed, reuse)
    wh = work_dir / f"warehouse_{households}" / "warehouse.duckdb"
    done = wh.parent / "built.json"
    if reuse and done.exists():
        return data / "extracts", wh
    for q in QUARTERS:
        print(f"季度比对 {q}({households} 户)…", file=sys.stderr)
        t = time.time()
        subprocess.run([sys.executable, "-m", "pipelines.run_quarter", "--quarter", q], cwd=ROOT, check=True,
                       env={**os.environ, **_env(data / "extracts", wh)}, stdout=subprocess.DEVNULL)
        print(f"  {time.time() - t:.0f} s", file=sys.stderr)
    done.write_text(json.dumps({"households": households, "seed": seed}), encoding="utf-8")
    return data / "extracts", wh


def _env(extracts: Path, wh: Path) -> dict:
    return {"EXTRACTS_DIR": str(extracts), "WAREHOUSE_PATH": str(wh), "EXPORTS_DIR": str(wh.parent / "exports"),
            "DAGSTER_HOME": str(wh.parent / "dagster_home"), "WEB_DIR": str(wh.parent / "web"),
            "DUCKDB_MEMORY_LIMIT": os.environ.get("DUCKDB_MEMORY_LIMIT", "4GB"), "PYTHONPATH": str(ROOT)}


def busiest_district(wh: Path) -> str:
    import duckdb

    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("SELECT district FROM flags WHERE quarter = (SELECT max(quarter) FROM flags) "
                           "AND district IS NOT NULL GROUP BY district ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    finally:
        con.close()


def make_officers(wh: Path, clients: int, district: str) -> list[str]:
    from web.accounts import ROLE_CITY, ROLE_DISTRICT, add_officer, get_officer
    from web.store import Store

    store = Store(wh.parent / "web" / "workbench.sqlite3")
    names = ["bench_city"] + [f"bench_d{i}" for i in range(clients - 1)]
    for name in names:
        if get_officer(store, name) is None:
            role = ROLE_CITY if name == "bench_city" else ROLE_DISTRICT
            add_officer(store, name, name, role, PASSWORD, district=None if role == ROLE_CITY else district)
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def login(client: httpx.AsyncClient, username: str) -> None:
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = await client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.text[:300]


def list_url(rng: random.Random, choices: dict) -> str:
    params = {"page": str(rng.randint(1, 5))}
    if rng.random() < 0.5 and choices["rules"]:
        params["rule"] = rng.choice(choices["rules"])
    if rng.random() < 0.3:
        params["age"] = rng.choice(["new", "carried"])
    if rng.random() < 0.3:
        params["sort"] = rng.choice(["street", "name", "status"])
    if rng.random() < 0.2 and choices["names"]:
        params["q"] = rng.choice(choices["names"])
    return "/flags?" + "&".join(f"{k}={v}" for k, v in params.items())


async def worker(client, rng, choices, budget, timings, think: float) -> None:
    while budget["left"] > 0:
        if think:  # an officer reads the page before the next click
            await asyncio.sleep(rng.uniform(0, 2 * think))
        budget["left"] -= 1
        kind = "list" if rng.random() < 0.5 else "household"
        url = list_url(rng, choices) if kind == "list" else rng.choice(choices["households"])
        t = time.perf_counter()
        r = await client.get(url)
        timings[kind].append((time.perf_counter() - t) * 1000)
        if r.status_code != 200:
            timings["errors"].append(f"{r.status_code} {url}")


async def run_load(base: str, officers: list[str], requests: int, seed: int, think: float) -> dict:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=len(officers))
    clients = [httpx.AsyncClient(base_url=base, limits=limits, timeout=60) for _ in officers]
    try:
        await asyncio.gather(*(login(c, o) for c, o in zip(clients, officers)))
        probe = clients[1] if len(clients) > 1 else clients[0]
        pages = [(await probe.get(f"/flags?page={p}")).text for p in range(1, 6)]
        html = "".join(pages)
        choices = {"households": sorted(set(re.findall(r'href="(/households/[^"]+)"', html))),
                   "rules": sorted(set(re.findall(r'<option value="([MRQ]\d\d)"', html))),
                   "names": sorted(set(re.findall(r'<td class="name"><a [^>]*>([^<(]+)</a>', html)))[:50]}
        timings: dict[str, list] = {"list": [], "household": [], "errors": []}
        budget = {"left": requests}
        t = time.perf_counter()
        await asyncio.gather(*(worker(c, random.Random(rng.random()), choices, budget, timings, think) for c in clients))
        wall = time.perf_counter() - t
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    out = {"wall_seconds": round(wall, 1), "requests": requests, "think_seconds": think,
           "requests_per_second": round(requests / wall, 1), "households_sampled": len(choices["households"]),
           "errors": timings["errors"][:10], "error_count": len(timings["errors"])}
    for kind in ("list", "household"):
        ms = sorted(timings[kind])
        out[kind] = {"n": len(ms), "p50_ms": round(statistics.median(ms), 1),
                     "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "max_ms": round(ms[-1], 1)}
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--households", type=int, default=300_000)
    ap.add_argument("--seed", type=int, default=20260930)
    ap.add_argument("--work-dir", type=Path, default=Path("/tmp/web_bench"))
    ap.add_argument("--reuse", action="store_true")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean seconds an officer looks at a page before the next request (0: back to back)")
    args = ap.parse_args(argv)
    extracts, wh = build_warehouse(args.work_dir, args.households, args.seed, args.reuse)
    district = busiest_district(wh)
    officers = make_officers(wh, args.clients, district)
    port = free_port()
    env = {**os.environ, **_env(extracts, wh), "WEB_PORT": str(port)}
    t = time.time()
    server = subprocess.Popen([sys.executable, "-m", "web"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "the workbench did not start"
            time.sleep(0.5)
        startup = time.time() - t
        cpu0 = cpu_seconds(server.pid)
        result = asyncio.run(run_load(base, officers[1:] + officers[:1], args.requests, args.seed, args.think))
        result.update(households=args.households, clients=args.clients, district=district,
                      startup_seconds=round(startup, 1), server_cpu_seconds=round(cpu_seconds(server.pid) - cpu0, 1),
                      warehouse_mb=round(wh.stat().st_size / 2**20), target_p95_ms=TARGET_P95_MS)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    (args.work_dir / f"web_load_{args.households}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0 if max(result["list"]["p95_ms"], result["household"]["p95_ms"]) <= TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())

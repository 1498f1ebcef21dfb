"""Benchmark: normalise 1,000,000 synthetic extract rows (IDs and names), wall time and peak RSS.

    .venv/bin/python -m bench.normalise_bench [--rows 1000000] [--seed 7]

The rows look like a real quarter: names repeat heavily (common surnames, a small pool of given-name
characters), IDs are mostly unique, and about 10% of the IDs carry a contract damage (spaces,
dashes, apostrophe, full-width digits, lowercase x, `.0`, 15-digit form, Excel scientific
notation, wrong check character, missing), some names have padding, dot variants or traditional
characters. The data is generated first and written to a parquet file; each measured stage then
runs in a fresh Python process that reads it, so the peak RSS printed is that stage's whole
process (interpreter, polars, OpenCC and the data included), not the generator's.

Target: ≤ 5 s and ≤ 1 GB on the 2-core CI machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
) + ["欧阳", "诸葛", "司马", "单", "解", "区"]
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国红梅玉兰志强文斌金凤海燕春梅晓东"
    "小红丽娟文静婷婷子涵浩然欣怡梓轩宇航诗涵一诺雨桐佳怡俊杰嘉怡思远德胜淑珍秋菊冬梅翠花永福"
)
TRAD = str.maketrans("张刘陈杨黄赵吴孙马郭罗郑梁谢宋许韩冯邓华国红兰东",
                     "張劉陳楊黃趙吳孫馬郭羅鄭梁謝宋許韓馮鄧華國紅蘭東")
REGIONS = ["420102", "420103", "420104", "420105", "420106", "420107", "420111", "420112",
           "420113", "420114", "420115", "420116", "420117", "420101", "420123", "422201"]
WEIGHTS = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)
CHECK = np.array(list("10X98765432"))


def synthetic_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """n valid 18-character IDs (numpy, vectorised check character)."""
    region = np.array(REGIONS)[rng.integers(0, len(REGIONS), n)]
    days = rng.integers(0, (date(2024, 12, 31) - date(1920, 1, 1)).days, n)
    born = (np.datetime64("1920-01-01") + days.astype("timedelta64[D]")).astype(str)
    born = np.char.replace(born, "-", "")
    seq = np.char.zfill(rng.integers(0, 996, n).astype(str), 3)
    first17 = np.char.add(np.char.add(region, born), seq)
    digits = np.frombuffer("".join(first17.tolist()).encode(), dtype=np.uint8).reshape(n, 17) - 48
    check = CHECK[(digits.astype(np.int64) @ WEIGHTS) % 11]
    return np.char.add(first17, check)


def _damage(rng: np.random.Generator, s: str) -> str:
    k = int(rng.integers(0, 10))
    if k == 0:
        return s[:6] + " " + s[6:14] + "\u3000" + s[14:]
    if k == 1:
        return s[:6] + "-" + s[6:14] + "-" + s[14:]
    if k == 2:
        return "'" + s
    if k == 3:
        return "".join(chr(ord(c) + 0xFEE0) for c in s)
    if k == 4:
        return s[:-1] + ("x" if s[-1] == "X" else s[-1]) + ("" if s[-1] == "X" else ".0")
    if k == 5:
        return s[:6] + s[8:17] if s[6:8] == "19" else s
    if k == 6:
        return f"{float(s):.{int(rng.integers(2, 15))}E}" if s[-1] != "X" else s
    if k == 7:
        return s[:17] + ("0" if s[17] != "0" else "1")
    if k == 8:
        return s[:5] + s[6] + s[5] + s[7:]
    return ""


def synthetic_names(rng: np.random.Generator, n: int) -> list[str]:
    """Names with heavy repetition; built over a pool of unique names, then sampled."""
    pool_size = max(n // 4, 1000)
    sur = rng.integers(0, len(SURNAMES), pool_size)
    g1 = rng.integers(0, len(GIVEN), pool_size)
    g2 = rng.integers(0, len(GIVEN), pool_size)
    two = rng.random(pool_size) < 0.7
    pool = []
    for s, a, b, t in zip(sur, g1, g2, two):
        name = SURNAMES[s] + GIVEN[a] + (GIVEN[b] if t else "")
        r = rng.random()
        if r < 0.05:
            name = name.translate(TRAD)
        elif r < 0.08 and len(name) == 2:
            name = name[0] + "  " + name[1]
        elif r < 0.09:
            name = "买买提" + "·•・．"[int(rng.integers(0, 4))] + name[1:]
        elif r < 0.095:
            name = name[0] + "?" + name[2:]
        pool.append(name)
    # Half the rows draw from a Zipf head (a few names are very common), half from the whole pool.
    picks = np.where(
        rng.random(n) < 0.5,
        np.minimum(rng.zipf(1.3, n) - 1, pool_size - 1),
        rng.integers(0, pool_size, n),
    )
    return [pool[i] for i in picks]


def generate(rows: int, seed: int, path: Path) -> dict:
    rng = np.random.default_rng(seed)
    # About 90% of the rows are distinct people; the rest repeat one of them (several rows each).
    persons = synthetic_ids(rng, int(rows * 0.9))
    ids = np.concatenate([persons, persons[rng.integers(0, len(persons), rows - len(persons))]])
    ids = ids[rng.permutation(rows)]
    dirty = np.flatnonzero(rng.random(rows) < 0.10)
    id_list = ids.tolist()
    for i in dirty:
        id_list[i] = _damage(rng, id_list[i]) or None
    sex = np.where(rng.random(rows) < 0.5, "男", "女")
    df = pl.DataFrame(
        {"name": synthetic_names(rng, rows), "id_number": id_list, "sex": sex.tolist()}
    )
    df.write_parquet(path)
    return {
        "rows": rows,
        "unique_ids": df.get_column("id_number").n_unique(),
        "unique_names": df.get_column("name").n_unique(),
        "damaged_ids": len(dirty),
    }


def measure(stage: str, path: Path) -> dict:
    """Run one stage in this process; return wall time and this process's peak RSS."""
    from matchers.id_columns import normalise_id_column
    from matchers.names import normalise_name_column
    from matchers.normalise import normalise_records

    df = pl.read_parquet(path)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if stage == "ids":
        out = normalise_id_column(df.get_column("id_number"))
    elif stage == "names":
        out = normalise_name_column(df.get_column("name"))
    else:
        out = normalise_records(df, "assistance")
    seconds = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF)
    assert out.height == df.height
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "stage": stage,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(after.ru_maxrss / 1024),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, Path(args.data))))
        return

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.parquet"
        t0 = time.perf_counter()
        info = generate(args.rows, args.seed, path)
        print(
            f"generated {info['rows']:,} rows in {time.perf_counter() - t0:.1f}s: "
            f"{info['unique_ids']:,} distinct ID values ({info['damaged_ids']:,} damaged), "
            f"{info['unique_names']:,} distinct names"
        )
        results = []
        for stage in ("ids", "names", "records"):
            proc = subprocess.run(
                [sys.executable, "-m", "bench.normalise_bench", "--measure", stage, "--data", str(path)],
                check=True, capture_output=True, text=True,
            )
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"\n{'stage':<34}{'wall s':>8}{'CPU s':>8}{'peak RSS MB':>13}")
    labels = {
        "ids": "normalise_id_column",
        "names": "normalise_name_column",
        "records": "normalise_records (name+ID+sex)",
    }
    for r in results:
        print(
            f"{labels[r['stage']]:<34}{r['seconds']:>8.2f}{r['cpu_seconds']:>8.2f}"
            f"{r['peak_rss_mb']:>13,}"
        )
    ok = all(r["seconds"] <= 5 and r["peak_rss_mb"] <= 1024 for r in results)
    print(f"\ntarget ≤ 5 s and ≤ 1 GB per stage: {'met' if ok else 'NOT met'}")
    print(f"(1-minute load average before the stages: {load:.1f} on {os.cpu_count()} cores;"
          " other work on the machine inflates wall time)")


if __name__ == "__main__":
    main()

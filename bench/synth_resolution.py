"""Synthetic stg_records with ground truth, at any scale, for the resolution benchmark and tests.

The rows look like what `matchers.normalise` produces from the extracts (names through
`matchers.names`), with the corruptions of EXTRACTS.md: IDs mistyped, transposed, with a wrong
check character, Excel-truncated, missing; J/L student numbers; traditional, homophone, wildcard
and mistyped names; missing or changed districts; twins with IDs one digit apart; many unrelated
people sharing the commonest names. Column `person_key` is the truth.
"""

from __future__ import annotations

import argparse
from datetime import date

import numpy as np
import polars as pl
from opencc import OpenCC

from matchers.names import normalise_name_column
from sample_data.pools import COMMON_FULL, SURNAME_WEIGHTS, SURNAMES

REGIONS = {
    "江岸区": "420102", "江汉区": "420103", "硚口区": "420104", "汉阳区": "420105", "武昌区": "420106",
    "青山区": "420107", "洪山区": "420111", "东西湖区": "420112", "汉南区": "420113", "蔡甸区": "420114",
    "江夏区": "420115", "黄陂区": "420116", "新洲区": "420117",
}
GIVEN_CHARS = list(
    "伟强磊军勇杰涛明超刚平辉鹏斌俊芳娜敏静丽艳娟霞红玲萍燕丹洁秀英兰华玉珍凤桂淑翠梅琴云莲"
    "建国志德长金福卫海东文武新春荣光宏晓小子宇浩然轩梓豪一鸣博天佑欣怡涵诗雨萱可馨思琪佳诺语嫣婷雪"
    "家庆安世永成立正中和顺利发兴旺昌盛林森松柏青山水清泉宝贵富喜乐欢笑美丽贤惠淑雅静怡晨阳"
)
HOMOPHONE_SWAP = {"明": "铭", "铭": "明", "静": "晶", "晶": "静", "伟": "玮", "洋": "阳", "丽": "莉", "敏": "民",
                  "华": "桦", "红": "虹", "林": "琳", "玲": "铃", "杰": "洁", "平": "萍", "文": "雯"}
RARE_CHARS = list("喆堃犇镕昇赟垚玥祎珺婍琤翀")
_W = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_CHECK = np.array(list("10X98765432"))
SOURCES = ("assistance", "poverty", "disability", "education", "housing", "medical")


def check_chars(id17: np.ndarray) -> np.ndarray:
    digits = np.frombuffer("".join(id17).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
    return _CHECK[(digits * _W).sum(axis=1) % 11]


def _valid(id17: np.ndarray, check: np.ndarray) -> np.ndarray:
    return check_chars(id17) == check


def make_persons(n_households: int, rng: np.random.Generator) -> pl.DataFrame:
    districts = np.array(list(REGIONS))
    sizes = rng.choice([1, 2, 3, 4, 5], n_households, p=[0.2, 0.3, 0.25, 0.17, 0.08])
    n = int(sizes.sum())
    hh = np.repeat(np.arange(n_households), sizes)
    pos = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    hh_district = rng.integers(0, len(districts), n_households)
    district = districts[hh_district[hh]]
    sw = np.array(SURNAME_WEIGHTS[: len(SURNAMES)], dtype=float)
    hh_surname = np.array(list(SURNAMES))[rng.choice(len(SURNAMES), n_households, p=sw / sw.sum())]
    surname = hh_surname[hh]
    spouse = pos == 1
    surname = np.where(spouse, np.array(list(SURNAMES))[rng.integers(0, len(SURNAMES), n)], surname)
    g = np.array(GIVEN_CHARS)
    two = rng.random(n) < 0.75
    given = np.where(two, np.char.add(g[rng.integers(0, len(g), n)], g[rng.integers(0, len(g), n)]),
                     g[rng.integers(0, len(g), n)])
    rare = rng.random(n) < 0.01
    given = np.where(rare, np.char.add(given.astype("<U4"), np.array(RARE_CHARS)[rng.integers(0, len(RARE_CHARS), n)]), given)
    name = np.char.add(surname.astype("<U8"), given.astype("<U8"))
    male = rng.random(n) < 0.5
    common = rng.random(n) < 0.04  # the 张伟 tier: many unrelated people, same name
    cm, cf = np.array(COMMON_FULL["男"]), np.array(COMMON_FULL["女"])
    name = np.where(common & male, cm[rng.integers(0, len(cm), n)], name)
    name = np.where(common & ~male, cf[rng.integers(0, len(cf), n)], name)
    head_year = rng.integers(1940, 1990, n_households)[hh]
    year = np.where(pos <= 1, head_year + rng.integers(-3, 4, n), head_year + rng.integers(22, 34, n))
    year = np.clip(year, 1935, 2022)
    day = rng.integers(0, 365, n)
    births = (np.array([np.datetime64(f"{y}-01-01") for y in range(1935, 2023)])[year - 1935]
              + day.astype("timedelta64[D]"))
    seq = rng.integers(0, 500, n) * 2 + np.where(male, 1, 0)
    # twins: the next member of some households is a twin of this one (same birth, seq + 2)
    twin = (pos >= 2) & (np.roll(pos, 1) >= 2) & (rng.random(n) < 0.15)
    twin[0] = False
    births = np.where(twin, np.roll(births, 1), births)
    seq = np.where(twin, (np.roll(seq, 1) + 2) % 1000, seq)
    male = np.where(twin, seq % 2 == 1, male)
    region = np.array([REGIONS[d] for d in districts])[hh_district[hh]]
    bstr = np.datetime_as_string(births, unit="D")
    bdig = np.char.replace(bstr, "-", "")
    id17 = np.char.add(np.char.add(region, bdig), np.char.zfill(seq.astype(str), 3))
    ids = np.char.add(id17, check_chars(id17))
    df = pl.DataFrame({
        "person_key": np.arange(n), "household": hh, "pos": pos, "name": name, "id": ids,
        "sex": np.where(male, "男", "女"), "birth": births.astype("datetime64[D]"), "district": district,
    })
    return df.unique("id", keep="first", maintain_order=True)


def make_records(persons: pl.DataFrame, rng: np.random.Generator, quarter: str = "2026Q3") -> pl.DataFrame:
    n = len(persons)
    k = 1 + rng.poisson(1.3, n)
    rec = persons.select(pl.all().gather(np.repeat(np.arange(n), k)))
    m = len(rec)
    src = np.array(SOURCES)[rng.choice(6, m, p=[0.25, 0.2, 0.1, 0.1, 0.05, 0.3])]
    ids = rec["id"].to_numpy().astype("<U18")
    id17 = np.array([s[:17] for s in ids])
    u = rng.random(m)
    kind = np.full(m, "id", dtype="<U12")
    kind[u < 0.05] = "repaired"
    kind[(u >= 0.05) & (u < 0.08)] = "mistype"
    kind[(u >= 0.08) & (u < 0.10)] = "transpose"
    kind[(u >= 0.10) & (u < 0.11)] = "wrong_check"
    kind[(u >= 0.11) & (u < 0.14)] = "truncated"
    kind[(u >= 0.14) & (u < 0.17)] = "none"
    student = (src == "education") & (rec["birth"].dt.year().to_numpy() >= 2003) & (rng.random(m) < 0.3)
    kind[student] = "student_j"
    # damage
    chars = np.frombuffer("".join(id17).encode(), dtype=np.uint8).reshape(m, 17).copy()
    pos = rng.integers(0, 17, m)
    sub = kind == "mistype"
    newd = (chars[np.arange(m), pos] - 48 + rng.integers(1, 10, m)) % 10 + 48
    chars[sub, pos[sub]] = newd[sub]
    tp = kind == "transpose"
    p2 = rng.integers(0, 16, m)
    a, b = chars[np.arange(m), p2].copy(), chars[np.arange(m), p2 + 1].copy()
    tp = tp & (a != b)
    kind[(kind == "transpose") & ~tp] = "id"
    chars[tp, p2[tp]] = b[tp]
    chars[tp, p2[tp] + 1] = a[tp]
    flat = chars.tobytes().decode("ascii")
    dam17 = np.array([flat[i * 17:(i + 1) * 17] for i in range(m)])
    check = np.array([s[17] for s in ids])
    wc = kind == "wrong_check"
    check = np.where(wc, _CHECK[(np.searchsorted(np.sort(_CHECK), check) + 1 + rng.integers(0, 9, m)) % 11], check)
    damaged = np.isin(kind, ["mistype", "transpose", "wrong_check"])
    still_valid = damaged & _valid(dam17, check)
    kind[still_valid] = "id"  # MOD 11-2 catches all of these; keep the few wrong_check collisions clean
    id_norm = np.where(np.isin(kind, ["id", "repaired"]), ids, None)
    evidence = np.where(np.isin(kind, ["mistype", "transpose", "wrong_check"]), dam17, None)
    evidence = np.where(kind == "truncated", np.array([s[:6] for s in ids]), evidence)
    id_kind = np.select(
        [np.isin(kind, ["id", "repaired"]), np.isin(kind, ["mistype", "transpose", "wrong_check"]),
         kind == "truncated", kind == "none", kind == "student_j"],
        ["id", "bad_check", "truncated", "none", "student_j"], "none")
    id_issue = np.select([kind == "repaired", id_kind == "bad_check", kind == "truncated", kind == "none"],
                         ["15位旧号码已升级", "校验位错误", "Excel科学计数法截断", "身份证号缺失"], None)
    # names
    names = rec["name"].to_numpy().astype("<U12")
    v = rng.random(m)
    raw = names.copy()
    t2 = v < 0.03
    s2t = OpenCC("s2t")
    uniq = np.unique(names[t2])
    tmap = dict(zip(uniq, s2t.convert("\n".join(uniq)).split("\n"))) if len(uniq) else {}
    raw[t2] = [tmap[x] for x in names[t2]]
    hom = (v >= 0.03) & (v < 0.045)
    raw[hom] = [x[:-1] + HOMOPHONE_SWAP.get(x[-1], x[-1]) for x in names[hom]]
    wild = np.array([any(c in RARE_CHARS for c in x) for x in names]) & (rng.random(m) < 0.5)
    raw[wild] = ["".join("?" if c in RARE_CHARS else c for c in x) for x in names[wild]]
    typo = (v >= 0.045) & (v < 0.055) & (np.char.str_len(names) >= 3)
    g = np.array(GIVEN_CHARS)
    raw[typo] = [x[:-1] + g[i % len(g)] for x, i in zip(names[typo], rng.integers(0, len(g), typo.sum()))]
    spaced = (v >= 0.055) & (v < 0.07)
    raw[spaced] = [" ".join(x) for x in raw[spaced]]
    nn = normalise_name_column(pl.Series(raw))
    district = rec["district"].to_numpy().astype(object)
    w = rng.random(m)
    district[w < 0.03] = None
    moved = (w >= 0.03) & (w < 0.05)
    district[moved] = np.array(list(REGIONS))[rng.integers(0, 13, moved.sum())]
    sex = np.where((rng.random(m) < 0.7) & (src != "medical"), rec["sex"].to_numpy(), None)
    birth = rec["birth"]
    id_birth = pl.Series(np.where(np.isin(id_kind, ["id", "student_j"]), True, False)).to_numpy()
    out = pl.DataFrame({
        "quarter": quarter, "source": src, "source_file": [f"{s}.csv" for s in src],
        "name_raw": raw, "id_raw": pl.Series(list(np.where(kind == "none", None, ids)), dtype=pl.String),
    }).with_columns(nn).with_columns(
        id_norm=pl.Series(list(id_norm), dtype=pl.String), id_issue=pl.Series(list(id_issue), dtype=pl.String),
        id_evidence=pl.Series(list(evidence), dtype=pl.String), id_kind=pl.Series(id_kind),
        id_birth_date=pl.when(pl.Series(id_birth)).then(birth).otherwise(None),
        id_sex=pl.when(pl.Series(id_birth)).then(rec["sex"]).otherwise(None),
        id_region=pl.when(pl.Series(id_kind == "id")).then(pl.Series([s[:6] for s in ids])).otherwise(None),
        sex=pl.Series(list(sex), dtype=pl.String), district=pl.Series(list(district), dtype=pl.String),
        household_id=pl.when(pl.Series(np.isin(src, ["assistance", "poverty"]))).then(
            pl.concat_str([pl.lit("H"), rec["household"].cast(pl.String)])).otherwise(None),
        relation=pl.when(rec["pos"] == 0).then(pl.lit("户主")).otherwise(pl.lit("子女")),
        person_key=rec["person_key"],
    )
    out = out.with_columns(
        source_row=(pl.int_range(pl.len()).over("source") + 1).cast(pl.Int32)
    )
    return out


def generate(n_households: int, seed: int = 7, quarter: str = "2026Q3") -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return make_records(make_persons(n_households, rng), rng, quarter)


def load_into(con, records: pl.DataFrame) -> None:
    """Insert the records as the quarter's stg_records (person_key dropped)."""
    from matchers import warehouse

    quarter = records["quarter"][0]
    con.register("synth_stg_df", records.drop("person_key"))
    with warehouse.transaction(con):
        warehouse.replace_rows(con, "stg_records", {"quarter": quarter}, "synth_stg_df")
    con.unregister("synth_stg_df")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    df = generate(args.households, args.seed)
    print(df.head(), len(df), df["id_kind"].value_counts())

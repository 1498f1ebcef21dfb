"""Person resolution on small hand-made stg_records frames, without Dagster."""

from __future__ import annotations

import os
import stat
from datetime import date

import numpy as np
import polars as pl
import pytest

from matchers import warehouse
from matchers.names import normalise_name_column
from matchers.resolution import cluster, person_ids, resolve, spec
from matchers.resolution.model import Model
from matchers.resolution.resolve import DEFAULT_MODEL_PATH, resolve_quarter

KEY = b"test-key"
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def valid_id(region: str, born: str, seq: str) -> str:
    first17 = region + born.replace("-", "") + seq
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, _W)) % 11]


def row(source: str, n: int, name: str, *, id_norm=None, id_kind=None, id_evidence=None, id_issue=None,
        district="江夏区", sex=None, quarter="2026Q3", **extra) -> dict:
    birth = date.fromisoformat(f"{id_norm[6:10]}-{id_norm[10:12]}-{id_norm[12:14]}") if id_norm else None
    return {
        "quarter": quarter, "source": source, "source_file": f"{source}_{quarter}.csv", "source_row": n,
        "name_raw": name, "id_norm": id_norm, "id_kind": id_kind or ("id" if id_norm else "none"),
        "id_evidence": id_evidence, "id_issue": id_issue, "id_birth_date": birth,
        "id_sex": ("男" if int(id_norm[16]) % 2 else "女") if id_norm else None,
        "sex": sex, "district": district, **extra,
    }


def load(con, rows: list[dict]) -> None:
    df = pl.DataFrame(rows, infer_schema_length=None)
    df = df.with_columns(normalise_name_column(df["name_raw"]))
    quarter = rows[0]["quarter"]
    con.register("t_stg", df)
    with warehouse.transaction(con):
        warehouse.replace_rows(con, "stg_records", {"quarter": quarter}, "t_stg")
    con.unregister("t_stg")


def resolved(con, quarter="2026Q3") -> pl.DataFrame:
    resolve_quarter(con, quarter, model_path=DEFAULT_MODEL_PATH, key=KEY)
    return con.sql(
        "SELECT source, source_row, name_norm, person_id, match_method, match_probability, match_explanation "
        "FROM work_source_records WHERE quarter = ? ORDER BY source, source_row", params=[quarter]
    ).pl()


def pid(df: pl.DataFrame, source: str, n: int) -> str:
    return df.filter((pl.col("source") == source) & (pl.col("source_row") == n))["person_id"].item()


@pytest.fixture
def con(tmp_path):
    c = warehouse.connect(tmp_path / "wh.duckdb")
    yield c
    c.close()


# A small population so that blocks and term frequencies are not degenerate.
def background(n: int = 30, quarter: str = "2026Q3") -> list[dict]:
    given = "建国志明德华长生金山福生卫东国平秀英桂英玉兰凤英淑珍翠华秀珍兰英"
    out = []
    for i in range(n):
        name = "周吴郑王冯陈褚卫蒋沈"[i % 10] + given[(2 * i) % len(given)] + given[(2 * i + 1) % len(given)]
        out.append(row("medical", 100 + i, name, id_norm=valid_id("420106", f"19{50 + i}-0{1 + i % 9}-1{i % 9}", f"{i:03d}"),
                       district="武昌区", quarter=quarter))
    return out


A_ID = valid_id("420115", "1980-03-05", "123")


def test_stage1_rows_sharing_a_valid_id_are_one_person(con):
    load(con, background() + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID),
        row("poverty", 1, "歐陽翠花", id_norm=A_ID, id_issue="15位旧号码已升级"),
        row("medical", 1, "欧阳 翠花", id_norm=A_ID),
    ])
    df = resolved(con)
    ours = df.filter(pl.col("source_row") == 1)
    assert ours["person_id"].n_unique() == 1
    assert ours["person_id"][0] == person_ids.person_id_for_id(KEY, A_ID)
    assert sorted(ours["match_method"].to_list()) == sorted([spec.METHOD_EXACT_ID, spec.METHOD_REPAIRED_ID, spec.METHOD_EXACT_ID])
    assert ours["match_probability"].to_list() == [1.0, 1.0, 1.0]
    assert A_ID not in ours["person_id"][0]


def test_corrupted_id_twin_links_with_explanation(con):
    mistyped = A_ID[:9] + str((int(A_ID[9]) + 3) % 10) + A_ID[10:17]  # one digit of the birth year
    transposed = A_ID[:14] + A_ID[15] + A_ID[14] + A_ID[16]
    load(con, background() + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID),
        row("medical", 1, "欧阳翠花", id_kind="bad_check", id_evidence=mistyped, id_issue="校验位错误"),
        row("poverty", 1, "欧阳翠花", id_kind="bad_check", id_evidence=transposed, id_issue="校验位错误"),
        row("disability", 1, "欧阳翠花", id_kind="truncated", id_evidence="420115", id_issue="Excel科学计数法截断"),
    ])
    df = resolved(con)
    a = pid(df, "assistance", 1)
    for source in ("medical", "poverty", "disability"):
        assert pid(df, source, 1) == a, source
    med = df.filter((pl.col("source") == "medical") & (pl.col("source_row") == 1))
    assert med["match_method"].item() == spec.METHOD_PROBABILISTIC
    assert med["match_probability"].item() >= spec.AUTO_LINK_PROBABILITY
    text = med["match_explanation"].item()
    assert "身份证号差一位 +" in text and "姓名相同 +" in text and "→" in text
    pov = df.filter((pl.col("source") == "poverty") & (pl.col("source_row") == 1))
    assert "身份证号相邻两位颠倒" in pov["match_explanation"].item()


def test_two_zhang_wei_born_the_same_year_in_the_same_district_do_not_link(con):
    b_id = valid_id("420115", "1980-11-20", "457")
    load(con, background() + [
        row("assistance", 1, "张伟", id_norm=A_ID),
        row("assistance", 2, "张伟", id_norm=valid_id("420115", "1980-07-12", "311")),
        # a third 张伟 of 1980 whose ID failed its check: his own birth date, not A's
        row("medical", 1, "张伟", id_kind="bad_check", id_evidence=b_id[:16] + str((int(b_id[16]) + 1) % 10)),
        row("housing", 1, "张伟", id_norm=b_id),
    ])
    df = resolved(con)
    a, c = pid(df, "assistance", 1), pid(df, "assistance", 2)
    assert a != c
    assert pid(df, "medical", 1) == pid(df, "housing", 1)
    assert pid(df, "medical", 1) not in (a, c)


def test_twins_with_valid_ids_one_digit_apart_stay_apart(con):
    twin_a = valid_id("420115", "2010-06-01", "031")
    twin_b = valid_id("420115", "2010-06-01", "033")
    # A's row with a typo in the last sequence digit: its 17 digits are exactly B's.
    load(con, background() + [
        row("education", 1, "李明轩", id_norm=twin_a),
        row("education", 2, "李明远", id_norm=twin_b),
        row("medical", 1, "李明轩", id_kind="bad_check", id_evidence=twin_b[:17]),
    ])
    df = resolved(con)
    assert pid(df, "education", 1) != pid(df, "education", 2)
    assert pid(df, "medical", 1) == pid(df, "education", 1)


def test_chaining_guard_splits_at_the_weakest_link():
    # nodes 0 and 3 hold valid IDs; 1 and 2 are rows; 1-2 chain 0 to 3
    a = np.array([0, 1, 2])
    b = np.array([1, 2, 3])
    w = np.array([12.0, 4.0, 9.0])
    labels, kept, cut = cluster.guarded_clusters(4, a, b, w, np.array([1, -1, -1, 1]))
    assert cut == 1 and kept.tolist() == [True, False, True]
    assert labels[0] == labels[1] and labels[2] == labels[3] and labels[0] != labels[3]


def test_components_without_conflict_are_plain_connected_components():
    labels, kept, cut = cluster.guarded_clusters(
        5, np.array([0, 3]), np.array([1, 4]), np.array([1.0, 1.0]), np.array([1, -1, -1, -1, -1])
    )
    assert cut == 0 and kept.all()
    assert labels.tolist() == [0, 0, 2, 3, 3]


def quarter_rows(quarter: str) -> list[dict]:
    rows = background(quarter=quarter) + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID, quarter=quarter),
        row("medical", 1, "欧阳翠花", id_kind="truncated", id_evidence="420115", quarter=quarter),
        # a person who never gives a usable ID
        row("medical", 2, "司马春燕", id_kind="none", district="黄陂区", quarter=quarter),
        row("disability", 1, "司马春燕", id_kind="none", district="黄陂区", quarter=quarter),
    ]
    return rows


def test_person_id_unchanged_after_rerun_and_after_adding_a_quarter(con):
    load(con, quarter_rows("2026Q3"))
    first = resolved(con)
    warehouse.publish_quarter(con, "2026Q3")
    again = resolved(con)
    assert first.select("source", "source_row", "person_id").equals(again.select("source", "source_row", "person_id"))
    warehouse.publish_quarter(con, "2026Q3")
    idless = pid(first, "medical", 2)
    assert pid(first, "disability", 1) == idless
    # next quarter: other files and rows, same people
    q4 = quarter_rows("2026Q4")
    for r in q4:
        r["source_row"] += 500
    load(con, q4)
    nxt = resolved(con, "2026Q4")
    assert pid(nxt, "assistance", 501) == pid(first, "assistance", 1)
    assert pid(nxt, "medical", 502) == idless
    assert pid(nxt, "disability", 501) == idless
    persons = con.sql("SELECT person_id, first_quarter, last_quarter FROM work_persons").pl()
    assert persons["person_id"].is_unique().all()
    me = persons.filter(pl.col("person_id") == idless)
    assert me.rows() == [(idless, "2026Q3", "2026Q4")]


def test_review_band_is_visible_in_match_method(con, monkeypatch):
    monkeypatch.setattr(spec, "AUTO_LINK_PROBABILITY", 1.01)  # every probabilistic link falls below
    load(con, background() + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID),
        row("medical", 1, "欧阳翠花", id_kind="truncated", id_evidence="420115"),
    ])
    df = resolved(con)
    med = df.filter((pl.col("source") == "medical") & (pl.col("source_row") == 1))
    assert med["match_method"].item() == spec.METHOD_REVIEW
    assert med["person_id"].item() == pid(df, "assistance", 1)


def test_row_with_nothing_to_link_is_a_new_person(con):
    load(con, background() + [row("medical", 1, "端木蓉", id_kind="none", district="新洲区")])
    df = resolved(con)
    me = df.filter((pl.col("source") == "medical") & (pl.col("source_row") == 1))
    assert me["match_method"].item() == spec.METHOD_NEW
    assert me["person_id"].item().startswith("P")


def test_households_heads_members_and_students_through_their_guardian(con):
    mother = valid_id("420115", "1982-02-02", "222")
    father = valid_id("420115", "1980-01-01", "111")
    child = valid_id("420115", "2012-05-05", "333")
    load(con, background() + [
        row("assistance", 1, "王大山", id_norm=father, household_id="H1", relation="户主"),
        row("assistance", 2, "刘小红", id_norm=mother, household_id="H1", relation="配偶"),
        # a poverty household whose roll names no head: the first listed member is the head
        row("poverty", 1, "刘小红", id_norm=mother, household_id="F9", relation="配偶"),
        row("poverty", 2, "王大山", id_norm=father, household_id="F9", relation="子女"),
        row("education", 1, "王小明", id_norm=child, guardian_name_norm="刘小红", guardian_id_norm=mother),
        # the guardian ID's check digit is wrong: no valid ID, but its 17 digits are the father's
        row("education", 2, "王小芳", id_kind="student_j", guardian_name_norm="王大山",
            guardian_id=father[:17] + ("0" if father[17] != "0" else "1")),
    ])
    resolve_quarter(con, "2026Q3", model_path=DEFAULT_MODEL_PATH, key=KEY)
    hm = con.sql(
        "SELECT household_key, person_id, relation, is_head, via FROM work_household_members ORDER BY ALL"
    ).pl()
    p = {k: person_ids.person_id_for_id(KEY, v) for k, v in (("f", father), ("m", mother), ("c", child))}
    h1 = hm.filter(pl.col("household_key") == "assistance:H1")
    assert h1.filter(pl.col("is_head"))["person_id"].to_list() == [p["f"]]
    assert set(h1["person_id"]) >= {p["f"], p["m"], p["c"]}
    assert h1.filter(pl.col("person_id") == p["c"])["via"].item() == "guardian"
    f9 = hm.filter(pl.col("household_key") == "poverty:F9")
    assert f9.filter(pl.col("is_head"))["person_id"].to_list() == [p["m"]]
    # the J-number student's guardian has no valid ID: resolved with the model, on its name and
    # the 17 digits its damaged ID still shows
    student2 = con.sql("SELECT person_id FROM work_source_records WHERE source = 'education' AND source_row = 2").fetchall()[0][0]
    assert {"assistance:H1", "poverty:F9"} <= set(hm.filter(pl.col("person_id") == student2)["household_key"])


def test_model_file_roundtrip_and_version_check(tmp_path):
    model = Model.load(DEFAULT_MODEL_PATH)
    path = tmp_path / "m.json"
    model.save(path)
    again = Model.load(path)
    assert again.to_json() == model.to_json()
    bad = path.read_text(encoding="utf-8").replace(f'"version": {spec.MODEL_VERSION}', '"version": 999')
    assert bad != path.read_text(encoding="utf-8")
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="重新训练"):
        Model.load(path)


def test_key_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(person_ids.KEY_ENV, raising=False)
    wh = tmp_path / "data" / "warehouse.duckdb"
    k1 = person_ids.load_or_create_key(wh)
    path = person_ids.key_file_path(wh)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert person_ids.load_or_create_key(wh) == k1
    monkeypatch.setenv(person_ids.KEY_ENV, "from-env")
    assert person_ids.load_or_create_key(wh) == b"from-env"
    assert person_ids.person_id_for_id(b"a", A_ID) != person_ids.person_id_for_id(b"b", A_ID)


def test_oversized_blocks_are_capped_and_reported(con, monkeypatch):
    monkeypatch.setattr(spec, "MAX_BLOCK_PAIRS", 4)
    rows = background() + [row("assistance", i, "张伟", id_norm=valid_id("420115", f"19{60 + i}-01-01", "001"))
                           for i in range(1, 6)]
    rows.append(row("medical", 1, "张伟", id_kind="none"))
    load(con, rows)
    counts = resolve_quarter(con, "2026Q3", model_path=DEFAULT_MODEL_PATH, key=KEY)
    rules = {b["rule"] for b in counts["oversized_blocks"]}
    assert "name_district" in rules and "name" in rules
    assert resolve.model_path() == DEFAULT_MODEL_PATH or os.environ.get(resolve.MODEL_ENV)


F_ID = valid_id("420115", "1975-04-02", "031")
M_ID = valid_id("420115", "1977-09-14", "042")
C_ID = valid_id("420115", "2008-06-21", "053")
OTHER_C_ID = valid_id("420115", "2009-01-30", "065")


def test_id_less_row_links_through_its_household_members(con):
    """No ID, a name two people of the district carry: the roll's other members decide."""
    place = {"district": "江夏区"}
    load(con, background() + [
        row("poverty", 1, "王建国", id_norm=F_ID, household_id="P1", relation="户主", **place),
        row("poverty", 2, "李秀英", id_norm=M_ID, household_id="P1", relation="配偶", **place),
        row("poverty", 3, "王子涵", id_norm=C_ID, household_id="P1", relation="子女", **place),
        row("housing", 1, "王子涵", id_norm=OTHER_C_ID, **place),  # a namesake in the same district
        row("assistance", 1, "王建国", id_norm=F_ID, household_id="H1", relation="户主", **place),
        row("assistance", 2, "李秀英", id_norm=M_ID, household_id="H1", relation="配偶", **place),
        row("assistance", 3, "王子涵", household_id="H1", relation="子女", **place),
    ])
    df = resolved(con)
    assert pid(df, "assistance", 3) == person_ids.person_id_for_id(KEY, C_ID)
    text = df.filter((pl.col("source") == "assistance") & (pl.col("source_row") == 3))["match_explanation"].item()
    assert "两名以上同户成员一致 +" in text, text


def test_candidate_listed_in_the_rows_own_roll_is_another_person(con):
    """Father and son of one name: the son's row without ID is not the father listed beside him."""
    load(con, background() + [
        row("assistance", 1, "欧阳振华", id_norm=F_ID, household_id="H1", relation="户主"),
        row("assistance", 2, "李秀英", id_norm=M_ID, household_id="H1", relation="配偶"),
        row("assistance", 3, "欧阳振华", household_id="H1", relation="子女"),
        row("poverty", 1, "欧阳振华", id_norm=F_ID, household_id="P1", relation="户主"),
        row("poverty", 2, "李秀英", id_norm=M_ID, household_id="P1", relation="配偶"),
    ])
    df = resolved(con)
    assert pid(df, "assistance", 3) != person_ids.person_id_for_id(KEY, F_ID)
    assert pid(df, "assistance", 1) == pid(df, "poverty", 1)


def test_id_less_row_links_to_the_namesake_of_its_street_and_community(con):
    """Two 刘洋 with IDs in one district, an ID-less housing row: where it lives decides."""
    here = {"district": "东西湖区", "street": "吴家山街道", "community": "花园社区"}
    there = {"district": "东西湖区", "street": "径河街道", "community": "马池社区"}
    liu_a = valid_id("420112", "1961-03-09", "787")
    liu_b = valid_id("420112", "1960-01-28", "831")
    load(con, background() + [
        row("assistance", 1, "刘洋", id_norm=liu_a, household_id="H1", relation="户主", **here),
        row("poverty", 1, "刘洋", id_norm=liu_b, household_id="P1", relation="户主", **there),
        row("housing", 1, "刘洋", **here),
    ])
    df = resolved(con)
    assert pid(df, "housing", 1) == person_ids.person_id_for_id(KEY, liu_a)
    text = df.filter((pl.col("source") == "housing") & (pl.col("source_row") == 1))["match_explanation"].item()
    assert "街道、社区相同 +" in text, text


def _scored(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    """Scored candidate pairs (node_l, node_r, match_weight) with every comparison null."""
    w = np.array([r[2] for r in rows])
    return pl.DataFrame({
        "pid_l": [r[0] for r in rows], "pid_r": [r[1] for r in rows],
        "node_l": [r[0] for r in rows], "node_r": [r[1] for r in rows],
        "match_weight": w, "match_probability": 1.0 / (1.0 + np.exp2(-w)),
        **{f"lvl_{c.key}": pl.Series([-1] * len(rows), dtype=pl.Int8) for c in spec.COMPARISONS},
        **{f"w_{c.key}": [0.0] * len(rows) for c in spec.COMPARISONS},
    })


def test_sole_clear_candidate_links_below_the_review_band_only_when_far_ahead():
    # nodes 0, 3, 5, 7: rows without a valid ID; 1, 2, 4, 6: persons. 0→1 at p≈0.67 (w=1), next
    # candidate person 0→2 at w=-6: 7 bits behind → linked, marked as the sole clear candidate; row
    # 7 scoring close to 0 does not compete (a row, perhaps of the same person). Row 3: best 0.67
    # but the next person only 2 bits behind → not linked. Row 5: best p≈0.45 → never.
    valid = np.array([0, 1, 1, 0, 1, 0, 1, 0])
    edges = resolve._link_edges(
        _scored([(0, 1, 1.0), (0, 2, -6.0), (0, 7, 0.5), (3, 4, 1.0), (3, 1, -1.0), (5, 6, -0.3)]), valid
    )
    assert edges.select("node_l", "node_r").rows() == [(0, 1)]  # 0→7 (p≈0.59) is no person
    assert spec.SOLE_CANDIDATE_NOTE in edges["match_explanation"][0]
    # at or above the review band a link never needs the margin
    strong = resolve._link_edges(_scored([(3, 4, 3.0), (3, 1, 2.5)]), valid)
    assert sorted(strong.select("node_l", "node_r").rows()) == [(3, 1), (3, 4)]
    assert not any(spec.SOLE_CANDIDATE_NOTE in t for t in strong["match_explanation"])


def test_link_edges_from_strong_pairs_and_node_pair_maxima_equal_those_from_all_pairs():
    # How a run streams its pairs: only those at or above SOLE_CANDIDATE_PROBABILITY are kept,
    # with the best weight of every node pair (weak ones, and several profile pairs per node pair).
    valid = np.array([0, 1, 1, 0, 1, 0, 1, 1])
    scored = _scored([(0, 1, 1.0), (0, 2, -6.0), (0, 2, -7.0), (3, 4, 1.0), (3, 1, -1.0), (3, 1, -5.0),
                      (5, 6, -0.3), (5, 7, 2.0), (0, 7, -8.0)])
    whole = resolve._link_edges(scored, valid)
    node_pairs = scored.group_by("node_l", "node_r").agg(pl.col("match_weight").max())
    streamed = resolve._link_edges(
        scored.filter(pl.col("match_probability") >= spec.SOLE_CANDIDATE_PROBABILITY), valid, node_pairs
    )
    assert streamed.equals(whole)
    assert sorted(whole.select("node_l", "node_r").rows()) == [(0, 1), (5, 7)]  # 3→4: 3→1 only 2 bits behind


def test_settlement_without_id_goes_to_the_namesake_who_settled_the_same_illness(con):
    # Four 王芳 of 新洲区 with valid IDs; only one has settled 恶性肿瘤 this quarter. A settlement of
    # 王芳 with no ID for 恶性肿瘤 belongs to her, not to a namesake who settled nothing (name and
    # district alone leave it a person of its own).
    sick = valid_id("420117", "1968-04-02", "224")
    others = [valid_id("420117", f"197{i}-09-30", "146") for i in range(3)]
    load(con, background() + [
        row("assistance", 1, "王芳", id_norm=sick, district="新洲区", household_id="H1", relation="户主"),
        row("medical", 1, "王芳", id_norm=sick, district="新洲区", diagnosis="恶性肿瘤"),
        row("medical", 2, "王芳", id_norm=sick, district="新洲区", diagnosis="恶性肿瘤"),
        *[row("assistance", 2 + i, "王芳", id_norm=o, district="新洲区", household_id=f"H{2 + i}", relation="户主")
          for i, o in enumerate(others)],
        row("medical", 3, "王芳", district="新洲区", diagnosis="恶性肿瘤"),
    ])
    df = resolved(con)
    assert pid(df, "medical", 3) == pid(df, "medical", 1)
    assert pid(df, "medical", 3) not in {pid(df, "assistance", 2 + i) for i in range(3)}
    linked = df.filter((pl.col("source") == "medical") & (pl.col("source_row") == 3))
    assert "对方有同一疾病的医保结算" in linked["match_explanation"].item()


def _one_run(path, rows: list[dict]) -> tuple[pl.DataFrame, dict]:
    c = warehouse.connect(path)
    try:
        load(c, rows)
        counts = resolve_quarter(c, "2026Q3", model_path=DEFAULT_MODEL_PATH, key=KEY)
        return resolved_rows(c), counts
    finally:
        c.close()


def resolved_rows(c) -> pl.DataFrame:
    return c.sql(
        "SELECT source, source_row, person_id, match_method, match_probability, match_explanation "
        "FROM work_source_records ORDER BY source, source_row"
    ).pl()


def test_pairs_streamed_in_small_batches_resolve_as_in_one(tmp_path, monkeypatch):
    mistyped = A_ID[:9] + str((int(A_ID[9]) + 3) % 10) + A_ID[10:17]
    rows = background() + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID),
        row("medical", 1, "欧阳翠花", id_kind="bad_check", id_evidence=mistyped, id_issue="校验位错误"),
        row("disability", 1, "欧阳翠花", id_kind="truncated", id_evidence="420115", id_issue="Excel科学计数法截断"),
        row("housing", 1, "周建国"),
        row("housing", 2, "周建国"),
        row("housing", 3, "郑德华", district="武昌区"),
    ]
    # ID-less namesakes of the background: many candidate pairs
    rows += [row("housing", 10 + i, r["name_raw"], district="武昌区") for i, r in enumerate(background()[:12])]
    whole, counts = _one_run(tmp_path / "a.duckdb", rows)
    monkeypatch.setattr(spec, "PAIR_CHUNK", 3)
    batched, counts_batched = _one_run(tmp_path / "b.duckdb", rows)
    assert counts["candidate_pairs"] > 3 * 4  # several batches
    assert counts_batched["candidate_pairs"] == counts["candidate_pairs"]
    assert batched.equals(whole)


def test_training_candidates_come_in_pair_order(con, monkeypatch):
    load(con, background() + [row("housing", 10 + i, r["name_raw"], district="武昌区")
                              for i, r in enumerate(background()[:6])])
    monkeypatch.setattr(spec, "PAIR_CHUNK", 2)
    pairs, stats = resolve.prepare_candidates(con, "2026Q3")
    assert len(pairs) == stats["pairs"] > 2
    assert pairs.select("pid_l", "pid_r").equals(pairs.select("pid_l", "pid_r").sort("pid_l", "pid_r"))
    assert pairs.select("pid_l", "pid_r").is_unique().all()


def test_truncated_id_agreeing_on_the_region_code_does_not_link_a_namesake_automatically(con):
    # `4.20111E+17` keeps only the region code; two 张伟 of 洪山区 both agree with it. Agreeing on a
    # region is what one stranger in 13 does: never an automatic link.
    a, b = valid_id("420111", "1979-05-02", "131"), valid_id("420111", "1983-11-20", "257")
    load(con, background() + [
        row("assistance", 1, "张伟", id_norm=a, district="洪山区"),
        row("assistance", 2, "张伟", id_norm=b, district="洪山区"),
        row("medical", 1, "张伟", id_kind="truncated", id_evidence="420111", district="洪山区"),
    ])
    df = resolved(con)
    medical = df.filter((pl.col("source") == "medical") & (pl.col("source_row") == 1))
    assert medical["match_method"].item() in (spec.METHOD_REVIEW, spec.METHOD_NEW)

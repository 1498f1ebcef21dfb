"""Incremental resolution on a refresh: only the changed rows are resolved again; every unchanged
row keeps its person; a full run instead when the published result cannot be built on."""

from __future__ import annotations

import datetime as dt
import json

from matchers import warehouse
from matchers.resolution import incremental, model_store, person_ids, spec
from matchers.resolution.model import Model
from matchers.resolution.incremental import MODE_FULL, MODE_INCREMENTAL, resolve_with_refresh
from matchers.resolution.resolve import DEFAULT_MODEL_PATH, resolve_quarter
from test_resolution import KEY, background, con, load, row, valid_id  # noqa: F401 (fixture)

Q = "2026Q3"
LI_ID = valid_id("420115", "1962-04-11", "031")
ZHAO_ID = valid_id("420106", "1975-09-23", "118")


def base_rows() -> list[dict]:
    return background() + [
        row("assistance", 1, "李秀兰", id_norm=LI_ID, household_id="H1", relation="户主"),
        row("medical", 1, "李秀兰", id_kind="none", district="江夏区", diagnosis="高血压"),
        row("poverty", 1, "赵建华", id_norm=ZHAO_ID, district="武昌区"),
        row("housing", 1, "李秀兰", id_kind="none", district="江夏区"),
        row("housing", 2, "孙志强", id_kind="none", district="洪山区"),
        row("housing", 3, "赵建华", id_norm=ZHAO_ID, district="武昌区"),
        row("housing", 4, "钱玉梅", id_kind="none", district="新洲区"),
    ]


def run(con, **kw) -> dict:
    return resolve_with_refresh(con, Q, model_path=kw.pop("model_path", DEFAULT_MODEL_PATH), key=KEY, **kw)


def assigned(con, table="work_source_records") -> dict[tuple[str, int], str]:
    return {
        (s, n): p
        for s, n, p in con.execute(
            f"SELECT source, source_row, person_id FROM {table} WHERE quarter = ?", [Q]
        ).fetchall()
    }


def publish_first(con) -> dict:
    load(con, base_rows())
    counts = run(con)
    assert counts["mode"] == MODE_FULL and "尚未发布" in counts["mode_reason"]
    warehouse.publish_quarter(con, Q)
    return assigned(con, "source_records")


def test_refresh_with_one_changed_source_resolves_only_its_changed_rows(con):
    before = publish_first(con)
    rows = [r for r in base_rows() if not (r["source"] == "housing" and r["source_row"] == 4)]  # removed
    for r in rows:
        if r["source"] == "housing" and r["source_row"] == 2:
            r["name_raw"] = "孙志刚"  # a name changed
    rows.append(row("housing", 5, "周凤英", id_kind="none", district="蔡甸区"))  # added
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL, counts["mode_reason"]
    assert counts["changed_sources"] == ["housing"]
    # the changed row and the added one; housing rows 1 and 3 are as published
    assert counts["rows_resolved"] == 2 and counts["rows"] == len(rows)
    after = assigned(con)
    assert set(after) == {(r["source"], r["source_row"]) for r in rows}
    for k, pid in after.items():
        if k[0] != "housing":
            assert pid == before[k], k
    # unchanged housing rows keep where they were
    assert after[("housing", 1)] == before[("medical", 1)] == before[("housing", 1)]
    assert after[("housing", 3)] == before[("poverty", 1)] == person_ids.person_id_for_id(KEY, ZHAO_ID)
    assert after[("housing", 5)] not in set(before.values())
    # a full run of the same data gives every row the same person, and the same persons index
    index = "SELECT * FROM work_persons ORDER BY person_id"
    persons_incremental = con.execute(index).fetchall()
    con.execute("DELETE FROM work_source_records")
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert assigned(con) == after
    assert con.execute(index).fetchall() == persons_incremental
    # the removed row's ID-less person (no other quarter names her) leaves the index, like a full run
    warehouse.publish_quarter(con, Q)
    ids = {r[0] for r in con.execute("SELECT person_id FROM persons").fetchall()}
    assert before[("housing", 4)] not in ids
    assert set(after.values()) <= ids


def test_unchanged_rows_copy_their_published_resolution_verbatim(con):
    publish_first(con)
    rows = base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")]
    load(con, rows)
    assert run(con)["mode"] == MODE_INCREMENTAL
    cols = "source, source_row, person_id, match_method, match_probability, match_explanation"
    pub = con.execute(f"SELECT {cols} FROM source_records WHERE source <> 'housing' ORDER BY 1, 2").fetchall()
    work = con.execute(f"SELECT {cols} FROM work_source_records WHERE source <> 'housing' ORDER BY 1, 2").fetchall()
    assert work == pub


def test_new_row_with_the_valid_id_of_an_existing_person_joins_that_person(con):
    before = publish_first(con)
    rows = base_rows() + [
        row("housing", 5, "李秀兰", id_norm=LI_ID, district="江夏区"),
        row("housing", 6, "李秀蘭", id_kind="bad_check", id_evidence=LI_ID[:17], id_issue="校验位错误"),
    ]
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL
    after = assigned(con)
    li = before[("assistance", 1)]
    assert li == person_ids.person_id_for_id(KEY, LI_ID)
    assert after[("housing", 5)] == li
    assert after[("housing", 6)] == li
    method = con.execute(
        "SELECT match_method FROM work_source_records WHERE source = 'housing' AND source_row = 5"
    ).fetchall()[0][0]
    assert method == spec.METHOD_EXACT_ID


def test_refresh_scores_with_the_model_its_published_base_was_resolved_with(con, tmp_path):
    publish_first(con)
    (base_sha,) = con.execute(
        "SELECT details->>'model_sha256' FROM run_log WHERE step = 'resolution'"
    ).fetchall()[0]
    stored = model_store.load(con, Q, base_sha)
    assert stored is not None and stored.sha256() == base_sha
    # another fallback file on disk: the refresh still scores with the base's model, read back
    # from match_models, so its changed rows are scored as the base's full run scored them
    other = Model.load(DEFAULT_MODEL_PATH)
    other.m["name"] = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    path = tmp_path / "person_model.json"
    other.save(path)
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    counts = run(con, model_path=path)
    assert counts["mode"] == MODE_INCREMENTAL, counts["mode_reason"]
    assert counts["model_sha256"] == base_sha != other.sha256()
    logged = con.execute(
        "SELECT details->>'model_sha256' FROM run_log WHERE step = 'resolution' ORDER BY finished_at"
    ).fetchall()
    assert [s for (s,) in logged] == [base_sha, base_sha]


def test_base_model_missing_from_the_warehouse_means_full_resolution(con):
    publish_first(con)
    con.execute("DELETE FROM match_models")
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    counts = run(con)
    assert counts["mode"] == MODE_FULL and "人员匹配模型" in counts["mode_reason"]
    assert counts["rows_resolved"] == counts["rows"]
    assert con.execute("SELECT count(*) FROM match_models WHERE model_sha256 = ?",
                       [counts["model_sha256"]]).fetchall()[0][0] == 1


def test_other_fallbacks_key_changed_most_rows_changed_not_published_result(con):
    publish_first(con)
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    other_key = resolve_with_refresh(con, Q, model_path=DEFAULT_MODEL_PATH, key=b"another-key")
    assert other_key["mode"] == MODE_FULL and "密钥" in other_key["mode_reason"]
    # that run was not published: the published result has no matching record of the new key, but
    # the earlier record still describes it; the work table, left by that run, is rebuilt
    assert run(con)["mode"] == MODE_INCREMENTAL
    cols = "source, source_row, person_id, match_method, match_probability, match_explanation"
    pub = con.execute(f"SELECT {cols} FROM source_records WHERE source <> 'housing' ORDER BY 1, 2").fetchall()
    work = con.execute(f"SELECT {cols} FROM work_source_records WHERE source <> 'housing' ORDER BY 1, 2").fetchall()
    assert work == pub
    # most rows in changed sources
    rows = [dict(r, name_raw=r["name_raw"] + "某") if r["source"] == "medical" else r for r in base_rows()]
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_FULL and "超过一半" in counts["mode_reason"]
    # forced by the run's configuration
    assert run(con, force_full=True)["mode"] == MODE_FULL


def test_published_by_an_older_version_without_a_record_means_full_resolution(con):
    publish_first(con)
    con.execute("DELETE FROM run_log WHERE step = 'resolution'")
    counts = run(con)
    assert counts["mode"] == MODE_FULL and "找不到" in counts["mode_reason"]


def test_nothing_changed_copies_the_published_result(con):
    before = publish_first(con)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL and counts["rows_resolved"] == 0
    assert assigned(con) == before


def test_officers_reviews_are_untouched(con):
    publish_first(con)
    con.execute(
        "INSERT INTO reviews (flag_id, decision, note, reviewer, decided_at, quarter) VALUES (?, ?, ?, ?, ?, ?)",
        ["F1", "已核实", "入户核查", "张三", dt.datetime(2026, 10, 1, 9, 0), Q],
    )
    reviews = con.execute("SELECT * FROM reviews").fetchall()
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    assert run(con)["mode"] == MODE_INCREMENTAL
    warehouse.publish_quarter(con, Q)
    assert con.execute("SELECT * FROM reviews").fetchall() == reviews


def test_household_members_are_rebuilt_from_the_whole_quarter(con):
    publish_first(con)
    hh_before = con.execute("SELECT * FROM household_members ORDER BY ALL").fetchall()
    assert hh_before
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    run(con)
    hh_after = con.execute("SELECT * FROM work_household_members ORDER BY ALL").fetchall()
    assert hh_after == hh_before


def test_decision_reports_changed_sources_by_row_content(con):
    publish_first(con)
    now = incremental.basis(DEFAULT_MODEL_PATH, KEY)
    d = incremental.decide(con, Q, now)
    assert d.incremental and d.changed == []
    rows = base_rows()
    rows[-1] = dict(rows[-1], district="江岸区")  # one cell of one housing row
    load(con, rows)
    d = incremental.decide(con, Q, now)
    assert d.incremental and d.changed == ["housing"] and d.rows_changed == 1 and d.rows_removed == 0
    assert "(housing) 有 1 行变化" in d.reason and "只重新匹配这 1 行" in d.reason
    # a row removed as well: counted apart (nothing to resolve for it)
    load(con, rows[:-2] + rows[-1:])
    d = incremental.decide(con, Q, now)
    assert d.incremental and d.rows_changed == 1 and d.rows_removed == 1
    assert "有 2 行变化(1 行新增或修改、1 行删除)" in d.reason


def _table(con, table: str) -> list[tuple]:
    return con.execute(f"SELECT * FROM {table} WHERE quarter = ? ORDER BY ALL", [Q]).fetchall()


def test_publish_after_a_refresh_replaces_only_the_changed_sources_rows(con, monkeypatch):
    publish_first(con)
    rows = [r for r in base_rows() if not (r["source"] == "housing" and r["source_row"] == 4)]  # removed
    for r in rows:
        if r["source"] == "housing" and r["source_row"] == 2:
            r["name_raw"] = "孙志刚"  # changed
    rows.append(row("housing", 5, "周凤英", id_kind="none", district="蔡甸区"))  # added
    load(con, rows)
    assert run(con)["mode"] == MODE_INCREMENTAL
    assert warehouse._partial_sources(con, Q) == ["housing"]
    # only housing rows are deleted and inserted: spy on the statements publish runs
    seen = []
    real = warehouse._replace_sources
    monkeypatch.setattr(warehouse.publish, "_replace_sources", lambda c, q, s: seen.append(s) or real(c, q, s))
    counts = warehouse.publish_quarter(con, Q)
    assert seen == [["housing"]]
    # no stale row (the removed one, the old version of the changed one), none missing (the added one)
    assert _table(con, "source_records") == _table(con, "work_source_records")
    assert counts["source_records"] == len(rows)
    # nothing changed since: a later refresh publishes nothing again, and the tables stay equal
    assert run(con)["mode"] == MODE_INCREMENTAL
    assert warehouse._partial_sources(con, Q) == []
    warehouse.publish_quarter(con, Q)
    assert _table(con, "source_records") == _table(con, "work_source_records")


def test_publish_replaces_the_whole_quarter_when_the_tables_moved_since_the_refresh(con):
    publish_first(con)
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    assert run(con)["mode"] == MODE_INCREMENTAL
    # the published rows changed after the refresh read them (another publish): a stale medical
    # row there must not survive
    con.execute("UPDATE source_records SET person_id = 'P_stale' WHERE quarter = ? AND source = 'medical'", [Q])
    assert warehouse._partial_sources(con, Q) is None
    warehouse.publish_quarter(con, Q)
    assert _table(con, "source_records") == _table(con, "work_source_records")
    # a full run after the refresh (newest record): the whole quarter too
    run(con, force_full=True)
    assert warehouse._partial_sources(con, Q) is None


# ---- row by row: only the changed rows are resolved ---------------------------------------------
def _resolution(con, table: str, source: str, n: int) -> tuple:
    return con.execute(
        f"SELECT person_id, match_method, match_probability, match_explanation FROM {table} "
        "WHERE quarter = ? AND source = ? AND source_row = ?",
        [Q, source, n],
    ).fetchall()[0]


def test_one_changed_row_alone_is_resolved_again_and_finds_its_person(con):
    before = publish_first(con)
    rows = base_rows()
    for r in rows:
        if r["source"] == "housing" and r["source_row"] == 2:
            # 孙志强 of 洪山区 becomes 赵建华 of 武昌区: the person of poverty row 1 (valid ID)
            r.update(name_raw="赵建华", district="武昌区")
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL and counts["rows_resolved"] == 1, counts["mode_reason"]
    assert "有 1 行变化" in counts["mode_reason"]
    after = assigned(con)
    assert after[("housing", 2)] == before[("poverty", 1)] == person_ids.person_id_for_id(KEY, ZHAO_ID)
    # every other row, of housing too, keeps its published resolution verbatim
    for source, n in before:
        if (source, n) != ("housing", 2):
            assert _resolution(con, "work_source_records", source, n) == _resolution(con, "source_records", source, n)
    # the row's old person (no other row) leaves the index; a full run agrees row by row
    assert before[("housing", 2)] not in {r[0] for r in con.execute("SELECT person_id FROM work_persons").fetchall()}
    index = con.execute("SELECT * FROM work_persons ORDER BY person_id").fetchall()
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert assigned(con) == after
    assert con.execute("SELECT * FROM work_persons ORDER BY person_id").fetchall() == index
    # the run log names the rows resolved and the source publish replaces
    logged = con.execute(
        "SELECT details FROM run_log WHERE step = 'resolution' ORDER BY finished_at DESC"
    ).fetchall()[0][0]
    logged = json.loads(logged) if isinstance(logged, str) else logged
    assert logged["rows_resolved"] == 1 and logged["publish_sources"] == ["housing"]


def test_a_removed_row_leaves_the_quarter_and_nothing_is_resolved(con):
    before = publish_first(con)
    rows = [r for r in base_rows() if not (r["source"] == "housing" and r["source_row"] == 4)]
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL
    assert counts["rows_resolved"] == 0 and counts["rows_removed"] == 1
    assert counts["changed_sources"] == ["housing"]  # publish replaces housing's rows
    after = assigned(con)
    assert set(after) == set(before) - {("housing", 4)}
    assert all(after[k] == before[k] for k in after)
    ids = {r[0] for r in con.execute("SELECT person_id FROM work_persons").fetchall()}
    assert before[("housing", 4)] not in ids  # her only row is gone, as in a full run
    warehouse.publish_quarter(con, Q)
    assert _table(con, "source_records") == _table(con, "work_source_records")


def _published_with_idless_qian(con, **medical):
    """The base rows plus a medical row of 钱玉梅 without an ID, who is also housing row 4 (same
    birth date and sex): resolved and published. Returns (rows, birth date, published persons)."""
    born = dt.date(1968, 2, 14)
    rows = base_rows() + [
        row("medical", 2, "钱玉梅", id_kind="none", district="新洲区", id_birth_date=born, sex="女", **medical)
    ]
    for r in rows:
        if r["source"] == "housing" and r["source_row"] == 4:
            r.update(id_birth_date=born, sex="女")
    load(con, rows)
    run(con)
    warehouse.publish_quarter(con, Q)
    return rows, born, assigned(con, "source_records")


def test_an_unchanged_idless_row_stays_with_its_person_when_a_changed_row_gains_its_valid_id(con):
    """Documented difference from a full run: a row that now carries a valid ID goes to that ID's
    person, and an unchanged row without an ID keeps the person it was published with, even where
    a full run would now link it to the changed row's ID."""
    qian = valid_id("420117", "1968-02-14", "062")
    rows, born, before = _published_with_idless_qian(con, diagnosis="糖尿病")
    assert before[("medical", 2)] == before[("housing", 4)]  # one person without an ID
    for r in rows:
        if r["source"] == "housing" and r["source_row"] == 4:
            r.update(id_norm=qian, id_kind="id", id_birth_date=born, id_sex="女")
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL and counts["rows_resolved"] == 1
    after = assigned(con)
    assert after[("medical", 2)] == before[("medical", 2)]  # kept as published
    assert after[("housing", 4)] == person_ids.person_id_for_id(KEY, qian)  # its ID's person
    # a full run on the same rows links the medical row to the ID (under the earlier person's id,
    # which the ID-less anchor brings): the refresh leaves that to the next full run
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    full = assigned(con)
    assert full[("medical", 2)] == full[("housing", 4)]


def test_resolution_code_changed_since_publish_means_full_resolution(con, monkeypatch):
    publish_first(con)
    load(con, base_rows() + [row("housing", 5, "周凤英", id_kind="none", district="蔡甸区")])
    monkeypatch.setattr(incremental, "_code_sha256", lambda: "another version")
    counts = run(con)
    assert counts["mode"] == MODE_FULL and "程序" in counts["mode_reason"]


def test_a_row_inserted_mid_file_changes_the_rows_after_it(con):
    """An insert shifts source_row of every later row: their provenance changed, so they are
    resolved again (and land with the same persons as a full run)."""
    publish_first(con)
    rows = [r for r in base_rows() if r["source"] != "housing"]
    housing = [r for r in base_rows() if r["source"] == "housing"]
    shifted = [housing[0], row("housing", 2, "周凤英", id_kind="none", district="蔡甸区")] + [
        dict(r, source_row=r["source_row"] + 1) for r in housing[1:]
    ]
    load(con, rows + shifted)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL
    assert counts["rows_resolved"] == 4 and counts["rows_removed"] == 0  # the new row and the 3 after it
    after = assigned(con)
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert assigned(con) == after


def test_a_new_idless_row_joins_the_person_of_kept_idless_rows(con):
    """The kept rows without an ID a changed row is blocked with take part (their own nodes, tied to
    their published person): a new row like them joins that person, as in a full run."""
    rows, born, before = _published_with_idless_qian(con)
    qian = before[("housing", 4)]
    assert before[("medical", 2)] == qian
    rows.append(row("housing", 5, "钱玉梅", id_kind="none", district="新洲区", id_birth_date=born, sex="女"))
    load(con, rows)
    counts = run(con)
    assert counts["mode"] == MODE_INCREMENTAL and counts["rows_resolved"] == 1
    assert counts["candidate_pairs"] > 0
    after = assigned(con)
    assert after[("housing", 5)] == qian
    resolution = _resolution(con, "work_source_records", "housing", 5)
    assert resolution[1] in (spec.METHOD_PROBABILISTIC, spec.METHOD_REVIEW)
    resolve_quarter(con, Q, model_path=DEFAULT_MODEL_PATH, key=KEY)
    assert assigned(con) == after
    # scored as the full run scores it: the prior counts all the quarter's nodes and the name's
    # term frequency is its share of all of them, not of the few nodes the refresh read
    assert _resolution(con, "work_source_records", "housing", 5) == resolution

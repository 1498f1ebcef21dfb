"""The workbench's pages and forms over a warehouse built from sample_data: logging in, the
officer's area enforced on the server, CSRF, decisions recorded without touching earlier ones."""

from __future__ import annotations

import re

import duckdb
import pytest

from matchers.privacy import contains_full_id
from matchers.reports.labels import DECISIONS
from web import accounts
from web.http import CSRF_FIELD, SESSION_COOKIE

from conftest import DISTRICT, OTHER_DISTRICT, PASSWORD, csrf_of, login


def household_links(html: str) -> list[str]:
    return re.findall(r'href="(/households/[^"?]+)', html)


def flag_ids(html: str) -> list[str]:
    return re.findall(r'name="flag_id" value="([^"]+)"', html)


def warehouse_rows(settings, sql: str, params=()):
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def test_pages_need_a_login(client):
    for url in ("/", "/flags", "/households/person:P0"):
        r = client.get(url, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_wrong_password_is_refused_and_logins_are_throttled(client):
    for _ in range(accounts.MAX_FAILURES):
        assert login(client, "jiangxia", "wrong-password").status_code == 401
    r = login(client, "jiangxia")  # the right password, but too many failures just now
    assert r.status_code == 429 and "登录失败次数过多" in r.text


def test_session_cookie_is_httponly_samesite_and_expires(client):
    r = login(client, "jiangxia")
    cookie = r.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Max-Age={accounts.SESSION_SECONDS}" in cookie


def test_expired_session_is_sent_to_login(client, as_officer, app):
    as_officer("jiangxia")
    app.state.workbench.store.execute("UPDATE sessions SET expires_at = 0")
    assert client.get("/flags", follow_redirects=False).headers["location"] == "/login"


def test_logout_ends_the_session(client, as_officer):
    csrf = as_officer("jiangxia")
    token = client.cookies.get(SESSION_COOKIE)
    client.post("/logout", data={CSRF_FIELD: csrf}, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, token)  # even a kept copy of the cookie no longer works
    assert client.get("/", follow_redirects=False).status_code == 303


def listed_flags_districts(client, settings, url: str) -> set[tuple]:
    ids = flag_ids(client.get(url).text)
    assert ids, "the list is empty"
    return set(warehouse_rows(settings, "SELECT DISTINCT district FROM flags WHERE list_contains(?, flag_id)", [ids]))


def test_district_officer_sees_only_their_district(client, as_officer, settings):
    as_officer("jiangxia")
    assert listed_flags_districts(client, settings, "/flags?quarter=2026Q3") == {(DISTRICT,)}
    (n,) = warehouse_rows(settings, "SELECT count(*) FROM flags WHERE quarter = '2026Q3' AND district = ?", [DISTRICT])[0]
    assert f"共 {n} 条" in client.get("/flags?quarter=2026Q3").text


def test_another_districts_household_url_is_404(client, as_officer):
    as_officer("hongshan")
    link = household_links(client.get("/flags?quarter=2026Q3").text)[0]
    assert client.get(link).status_code == 200
    client.cookies.clear()
    as_officer("jiangxia")
    r = client.get(link)
    assert r.status_code == 404 and "不在您负责的区域内" in r.text


def test_decision_on_another_districts_flag_is_404_and_not_recorded(client, as_officer, settings, app):
    (fid,) = warehouse_rows(settings, "SELECT min(flag_id) FROM flags WHERE district = ?", [OTHER_DISTRICT])[0]
    csrf = as_officer("jiangxia")
    r = client.post("/decisions", data={CSRF_FIELD: csrf, "flag_id": fid, "decision": DECISIONS[2]})
    assert r.status_code == 404
    assert not app.state.workbench.store.rows("SELECT * FROM inbox_decisions")


def test_street_officer_sees_only_their_street(client, as_officer, settings, app):
    as_officer("street")
    street = accounts.get_officer(app.state.workbench.store, "street").street
    page = client.get("/flags?quarter=2026Q3")
    ids = flag_ids(page.text)
    assert ids
    assert set(re.findall(r"<tr>\s*<td><input[^>]*>\s*</td>\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>", page.text)) == {street}
    city_total = len(warehouse_rows(settings, "SELECT 1 FROM flags WHERE quarter = '2026Q3' AND district = ?", [DISTRICT]))
    assert int(re.search(r"共 (\d+) 条", page.text).group(1)) < city_total


def test_form_without_csrf_token_is_refused(client, as_officer, app):
    as_officer("jiangxia")
    fid = flag_ids(client.get("/flags?quarter=2026Q3").text)[0]
    r = client.post("/decisions", data={"flag_id": fid, "decision": DECISIONS[0]})
    assert r.status_code == 403
    r = client.post("/decisions", data={"flag_id": fid, "decision": DECISIONS[0], CSRF_FIELD: "forged"})
    assert r.status_code == 403
    assert not app.state.workbench.store.rows("SELECT * FROM inbox_decisions")


def test_login_form_without_its_token_is_refused(client):
    r = client.post("/login", data={"username": "jiangxia", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 403 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_decision_is_shown_at_once_and_reaches_reviews_without_changing_earlier_ones(client, as_officer, settings, app):
    csrf = as_officer("jiangxia")
    page = client.get("/flags?quarter=2026Q3")
    fid = flag_ids(page.text)[0]
    before = warehouse_rows(settings, "SELECT * FROM reviews ORDER BY rowid")
    for decision, note in ((DECISIONS[1], "入户核实,待办理"), (DECISIONS[0], "已纳入低保")):
        r = client.post("/decisions", data={CSRF_FIELD: csrf, "flag_id": fid, "decision": decision, "note": note,
                                            "next": "/flags?quarter=2026Q3"}, follow_redirects=False)
        assert r.status_code == 303
    listed = client.get(f"/flags?quarter=2026Q3&status={DECISIONS[0]}")
    assert fid in flag_ids(listed.text)
    app.state.workbench.sync_now()  # the warehouse is free: the inbox moves into reviews
    rows = warehouse_rows(settings, "SELECT * FROM reviews ORDER BY rowid")
    assert rows[: len(before)] == before
    mine = [r for r in rows[len(before):] if r[0] == fid]
    assert [(r[1], r[2], r[3]) for r in mine] == [(DECISIONS[1], "入户核实,待办理", "江夏核查员"),
                                                 (DECISIONS[0], "已纳入低保", "江夏核查员")]
    app.state.workbench.sync_now()  # a second transfer writes nothing twice
    assert len(warehouse_rows(settings, "SELECT * FROM reviews")) == len(rows)
    (status,) = warehouse_rows(settings, "SELECT DISTINCT review_status FROM flags WHERE flag_id = ?", [fid])[0]
    assert status == DECISIONS[0]
    assert fid in flag_ids(client.get(f"/flags?quarter=2026Q3&status={DECISIONS[0]}").text)


def test_bulk_decision_for_selected_flags(client, as_officer, app):
    csrf = as_officer("jiangxia")
    fids = flag_ids(client.get("/flags?quarter=2026Q3").text)[:3]
    r = client.post("/decisions", data={CSRF_FIELD: csrf, "flag_id": fids, "decision": DECISIONS[3]},
                    follow_redirects=False)
    assert r.status_code == 303
    assert sorted(d["flag_id"] for d in app.state.workbench.store.rows("SELECT * FROM inbox_decisions")) == sorted(fids)


def test_household_page_shows_members_source_rows_flags_and_decisions(client, as_officer):
    csrf = as_officer("jiangxia")
    page = client.get("/flags?quarter=2026Q3")
    link = household_links(page.text)[0]
    house = client.get(link)
    assert house.status_code == 200
    assert "家庭成员" in house.text and "各部门数据中的记录" in house.text and ".csv" in house.text + ".xlsx"
    fid = flag_ids(house.text)[0]
    client.post("/decisions", data={CSRF_FIELD: csrf, "flag_id": fid, "decision": DECISIONS[2], "note": "查无此事"})
    again = client.get(link)
    assert "查无此事" in again.text and "江夏核查员" in again.text


def test_filters_search_sort_and_pages(client, as_officer, settings):
    as_officer("city")
    all_rows = client.get("/flags?quarter=2026Q3")
    total = int(re.search(r"共 (\d+) 条", all_rows.text).group(1))
    assert total > 50 and "下一页" in all_rows.text
    second = client.get("/flags?quarter=2026Q3&page=2")
    assert set(flag_ids(second.text)).isdisjoint(flag_ids(all_rows.text))
    m04 = client.get("/flags?quarter=2026Q3&rule=M04")
    (n_m04,) = warehouse_rows(settings, "SELECT count(*) FROM flags WHERE quarter = '2026Q3' AND rule_code = 'M04'")[0]
    assert f"共 {n_m04} 条" in m04.text
    new = int(re.search(r"共 (\d+) 条", client.get("/flags?quarter=2026Q3&age=new").text).group(1))
    carried = int(re.search(r"共 (\d+) 条", client.get("/flags?quarter=2026Q3&age=carried").text).group(1))
    assert new + carried == total
    (name, tail) = warehouse_rows(settings, """
        SELECT p.name, right(p.id_number, 4) FROM flags f JOIN persons p USING (person_id)
        WHERE f.quarter = '2026Q3' AND p.id_number IS NOT NULL ORDER BY f.flag_id LIMIT 1""")[0]
    assert name in client.get(f"/flags?quarter=2026Q3&q={name}").text
    assert tail in client.get(f"/flags?quarter=2026Q3&q={tail}").text
    by_name = client.get("/flags?quarter=2026Q3&sort=name")
    assert by_name.status_code == 200


def test_overview_counts_per_rule_status_and_quarter(client, as_officer, settings):
    as_officer("city")
    page = client.get("/?quarter=2026Q3")
    (total,) = warehouse_rows(settings, "SELECT count(*) FROM flags WHERE quarter = '2026Q3'")[0]
    assert f"<b>{total}</b>本季度疑点" in page.text and "<svg" in page.text and "2026Q2" in page.text


def test_no_full_id_in_any_page(client, as_officer):
    as_officer("city")
    pages = [client.get("/"), client.get("/flags?quarter=2026Q3"), client.get("/flags?quarter=2026Q2")]
    for link in household_links(pages[1].text)[:20]:
        pages.append(client.get(link))
    for p in pages:
        assert p.status_code == 200
        assert not contains_full_id(p.text), p.url


def test_city_admin_reveals_one_id_with_a_reason_and_it_is_audited(client, as_officer, app, settings):
    csrf = as_officer("city")
    link = household_links(client.get("/flags?quarter=2026Q3").text)[0]
    house = client.get(link).text
    person = re.search(r'action="/persons/([^/]+)/reveal"', house).group(1)
    assert client.post(f"/persons/{person}/reveal", data={CSRF_FIELD: csrf, "reason": ""}).status_code == 400
    r = client.post(f"/persons/{person}/reveal", data={CSRF_FIELD: csrf, "reason": "入户核查需核对证件"})
    assert r.status_code == 200 and contains_full_id(r.text)
    app.state.workbench.sync_now()
    audit = warehouse_rows(settings, "SELECT action, actor, details->>'reason' FROM audit_log WHERE action LIKE 'web_%'")
    assert ("web_reveal_id", "city", "入户核查需核对证件") in audit and ("web_login", "city", None) in audit


def test_district_officer_cannot_reveal(client, as_officer, settings):
    csrf = as_officer("jiangxia")
    (person,) = warehouse_rows(settings, "SELECT min(person_id) FROM flags WHERE district = ?", [DISTRICT])[0]
    assert client.post(f"/persons/{person}/reveal", data={CSRF_FIELD: csrf, "reason": "想看看号码"}).status_code == 404

"""Receiving a department's extract: checked with the pipeline's reader, shown, then moved into the
quarter folder on confirmation; city administrators only."""

from __future__ import annotations

import re


from web.http import CSRF_FIELD

from conftest import SAMPLE


def test_checked_extract_is_moved_into_the_quarter_folder_on_confirmation(client, as_officer, settings):
    csrf = as_officer("city")
    data = (SAMPLE / "2026Q3" / "poverty_2026Q3.csv").read_bytes()
    r = client.post("/extracts/check", data={CSRF_FIELD: csrf, "quarter": "2026Q4", "source": "poverty"},
                    files={"file": ("扶贫名单.csv", data)})
    assert r.status_code == 200
    assert "gb18030" in r.text and "数据行 309 行,可接收 308 行" in r.text and "142" in r.text
    assert not (settings.extracts_dir / "2026Q4").exists()  # nothing moved before confirmation
    ticket = re.search(r'name="ticket" value="([^"]+)"', r.text).group(1)
    done = client.post("/extracts/receive", data={CSRF_FIELD: csrf, "ticket": ticket}, follow_redirects=False)
    assert done.status_code == 303
    assert (settings.extracts_dir / "2026Q4" / "poverty_扶贫名单.csv").read_bytes() == data
    page = client.get("/extracts")
    assert "poverty_扶贫名单.csv" in page.text and "未报送" in page.text
    assert "当前没有比对作业在写入数据仓库" in page.text


def test_unreadable_extract_is_refused_with_a_reason(client, as_officer, settings):
    csrf = as_officer("city")
    data = (SAMPLE / "2026Q3" / "poverty_2026Q3.csv").read_bytes()
    r = client.post("/extracts/check", data={CSRF_FIELD: csrf, "quarter": "2026Q4", "source": "medical"},
                    files={"file": ("medical.csv", data)})
    assert "无法接收" in r.text and "缺少必需的列" in r.text and 'name="ticket"' not in r.text
    app_audit = client.app.state.workbench.store.rows("SELECT action, details FROM inbox_audit WHERE action = 'web_check_extract'")
    assert len(app_audit) == 1 and '"ok": false' in app_audit[0]["details"]


def test_extract_pages_are_for_city_administrators_only(client, as_officer):
    csrf = as_officer("jiangxia")
    assert client.get("/extracts").status_code == 404
    r = client.post("/extracts/check", data={CSRF_FIELD: csrf, "quarter": "2026Q4", "source": "poverty"},
                    files={"file": ("poverty.csv", b"x")})
    assert r.status_code == 404

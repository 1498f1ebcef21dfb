"""The workbench in a real browser: Playwright driving Debian's chromium (/usr/bin/chromium, no
browser download) against uvicorn on a free loopback port. Skipped only where chromium is absent.

With WEB_SCREENSHOT_DIR set, the overview, work list and household page are saved there as PNG
(docs/img/ holds the ones the docs show)."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from matchers.privacy import contains_full_id
from matchers.reports.labels import DECISIONS
from web.app import create_app

from conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(settings):
    """uvicorn serving the app in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        assert thread.is_alive() and time.time() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Visits:
    """Every page the browser showed, to check none holds a full ID."""

    def __init__(self, page):
        self.page, self.html = page, {}

    def record(self) -> None:
        self.html[self.page.url] = self.page.content()


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def shoot(page, name: str) -> None:
    folder = os.environ.get("WEB_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_officer_filters_opens_a_household_records_a_decision_and_sees_it_listed(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    seen = Visits(page)
    log_in(page, server, "jiangxia")
    seen.record()
    assert "疑点概览" in page.inner_text("h1")
    shoot(page, "overview.png")
    page.click("text=核查清单")
    page.select_option("select[name=rule]", index=1)
    rule = page.eval_on_selector("select[name=rule]", "e => e.value")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(f"rule={rule}"))
    seen.record()
    rules = page.eval_on_selector_all("table.list tbody tr td:nth-child(2)", "cells => cells.map(c => c.innerText)")
    assert rules and set(rules) == {rule}
    page.goto(f"{server}/flags?quarter=2026Q3")
    shoot(page, "work_list.png")
    page.click("table.list tbody tr:first-child td:nth-child(5) a")
    page.wait_for_url(re.compile("/households/"))
    seen.record()
    assert "家庭成员" in page.content()
    shoot(page, "household.png")
    flag = page.eval_on_selector_all(  # a flag of the quarter the household was opened from
        "input[name=flag_id]",
        "boxes => boxes.find(b => b.closest('tr').children[4].innerText.includes('2026Q3')).value")
    page.check(f"input[name=flag_id][value='{flag}']")
    page.select_option("fieldset.bulk select[name=decision]", DECISIONS[1])
    page.fill("fieldset.bulk input[name=note]", "浏览器录入:已入户,材料待补")
    page.click("fieldset.bulk button[type=submit]")
    page.wait_for_load_state()
    seen.record()
    assert "浏览器录入:已入户,材料待补" in page.inner_text("table.decisions")
    page.goto(f"{server}/flags?quarter=2026Q3&status={DECISIONS[1]}")
    seen.record()
    assert flag in page.content()
    for url, html in seen.html.items():
        assert not contains_full_id(html), url


def test_district_officer_gets_404_for_another_districts_household(server, browser):
    other = browser.new_context().new_page()
    log_in(other, server, "hongshan")
    other.goto(f"{server}/flags?quarter=2026Q3")
    link = other.eval_on_selector("table.list td.name a", "a => a.getAttribute('href')")
    assert other.goto(f"{server}{link}").status == 200
    page = browser.new_context().new_page()
    log_in(page, server, "jiangxia")
    response = page.goto(f"{server}{link}")
    assert response.status == 404 and "不在您负责的区域内" in page.content()


def test_form_posted_without_csrf_token_is_refused(server, browser):
    page = browser.new_page()
    log_in(page, server, "jiangxia")
    page.goto(f"{server}/flags?quarter=2026Q3")
    page.check("table.list input[name=flag_id] >> nth=0")
    page.select_option("fieldset.bulk select[name=decision]", DECISIONS[2])
    page.eval_on_selector("#bulk input[name=csrf_token]", "e => e.remove()")
    with page.expect_response(lambda r: r.url.endswith("/decisions")) as answer:
        page.click("fieldset.bulk button[type=submit]")
    assert answer.value.status == 403
    assert "缺少安全校验码" in page.content()

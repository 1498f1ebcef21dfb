"""Fixtures of the workbench tests: a warehouse built from sample_data by the quarterly job (both
sample quarters, so flags are new and carried over), officers of three roles, and an app over a
private copy of that warehouse per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import DagsterInstance
from starlette.testclient import TestClient

from assets.partitions import QUARTER_PARTITIONS_NAME
from assets.resources import WarehouseResource
from pipelines.definitions import QUARTERLY_JOB_NAME, build_definitions
from web.accounts import ROLE_CITY, ROLE_DISTRICT, ROLE_STREET, add_officer
from web.app import create_app
from web.http import CSRF_FIELD
from web.service import Settings
from web.store import Store

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "extracts"
QUARTERS = ("2026Q2", "2026Q3")
PASSWORD = "核查-password-1"
DISTRICT, OTHER_DISTRICT = "江夏区", "洪山区"


def run_quarter(wh: WarehouseResource, quarter: str) -> None:
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(QUARTER_PARTITIONS_NAME, [quarter])
    result = build_definitions(wh).resolve_job_def(QUARTERLY_JOB_NAME).execute_in_process(
        instance=instance, partition_key=quarter, raise_on_error=False)
    instance.dispose()
    assert result.success


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> WarehouseResource:
    root = tmp_path_factory.mktemp("web_warehouse")
    extracts = root / "extracts"
    for q in QUARTERS:
        shutil.copytree(SAMPLE / q, extracts / q)
    wh = WarehouseResource(path=str(root / "data" / "warehouse.duckdb"), extracts_dir=str(extracts),
                           exports_dir=str(root / "exports"))
    for q in QUARTERS:
        run_quarter(wh, q)
    return wh


@pytest.fixture
def settings(built_warehouse, tmp_path) -> Settings:
    """A private copy of the built warehouse and empty web files, per test."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(built_warehouse.path, data / "warehouse.duckdb")
    extracts = tmp_path / "extracts"
    shutil.copytree(built_warehouse.extracts_dir, extracts)
    s = Settings(warehouse_path=data / "warehouse.duckdb", extracts_dir=extracts, exports_dir=data / "exports",
                 web_dir=data / "web", sync_seconds=0.5)
    store = Store(s.store_path)
    street = busiest_street(s.warehouse_path, DISTRICT)
    add_officer(store, "city", "市管理员", ROLE_CITY, PASSWORD)
    add_officer(store, "jiangxia", "江夏核查员", ROLE_DISTRICT, PASSWORD, district=DISTRICT)
    add_officer(store, "hongshan", "洪山核查员", ROLE_DISTRICT, PASSWORD, district=OTHER_DISTRICT)
    add_officer(store, "street", "街道核查员", ROLE_STREET, PASSWORD, district=DISTRICT, street=street)
    return s


def busiest_street(warehouse_path: Path, district: str) -> str:
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        return con.execute(  # the street with most of the district's flagged persons of the last quarter
            "SELECT s.street FROM flags f JOIN source_records s ON s.person_id = f.person_id AND s.quarter = f.quarter "
            "WHERE f.district = ? AND f.quarter = ? AND s.street IS NOT NULL "
            "GROUP BY s.street ORDER BY count(DISTINCT f.flag_id) DESC, s.street LIMIT 1", [district, QUARTERS[-1]]
        ).fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def app(settings):
    return create_app(settings, background=False)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def csrf_of(html: str) -> str:
    import re

    m = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', html)
    assert m, "page has no CSRF field"
    return m.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password, CSRF_FIELD: csrf_of(page.text)},
                       follow_redirects=False)


@pytest.fixture
def as_officer(client):
    """Log the test client in as one of the fixture officers; returns the CSRF token of the session."""
    def _login(username: str) -> str:
        r = login(client, username)
        assert r.status_code == 303, r.text
        return csrf_of(client.get("/").text)
    return _login

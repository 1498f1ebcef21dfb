"""Tried as a new user would: start the UI and daemon (`make ui`'s command), materialise the sample
quarter through the webserver, then read the asset graph, the checks and the metadata back over
GraphQL from localhost."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "extracts"
FULL_ID = r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gql(port: int, query: str, variables: dict | None = None) -> dict:
    r = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    r.raise_for_status()
    body = r.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui")
    shutil.copytree(SAMPLE / "2026Q3", tmp / "extracts" / "2026Q3")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = dict(os.environ)
    env.update(
        EXTRACTS_DIR=str(tmp / "extracts"),
        WAREHOUSE_PATH=str(tmp / "wh.duckdb"),
        EXPORTS_DIR=str(tmp / "exports"),
        DAGSTER_HOME=str(home),
        DAGSTER_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(ROOT),
    )
    dagster = Path(sys.executable).parent / "dagster"
    log = open(tmp / "ui.log", "w")
    proc = subprocess.Popen(
        [str(dagster), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                data = _gql(port, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }")
                if data["repositoriesOrError"].get("nodes"):
                    break
            except (requests.RequestException, AssertionError):
                pass
            time.sleep(1)
        else:
            pytest.fail("Dagster UI did not start:\n" + (tmp / "ui.log").read_text()[-3000:])
        yield port, env, tmp
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()


ASSET_GRAPH = """
{ assetNodes { assetKey { path } groupName dependencyKeys { path } isPartitioned
               assetChecksOrError { ... on AssetChecks { checks { name } } } } }
"""


def test_ui_shows_the_asset_graph_with_checks(ui):
    port, _, _ = ui
    nodes = {"/".join(n["assetKey"]["path"]): n for n in _gql(port, ASSET_GRAPH)["assetNodes"]}
    assert {"extract_assistance", "source_records", "flags", "district_workbooks", "quarterly_report"} <= set(nodes)
    assert nodes["extract_poverty"]["groupName"] == "extracts"
    assert {"path": ["extract_medical"]} in nodes["source_records"]["dependencyKeys"]
    assert {"path": ["source_records"]} in nodes["flags"]["dependencyKeys"]
    checks = {c["name"] for c in nodes["extract_housing"]["assetChecksOrError"]["checks"]}
    assert {"valid_id_share", "row_count_vs_previous_quarter", "rejected_share"} <= checks


def test_materialise_sample_quarter_through_the_webserver_and_read_metadata(ui):
    from dagster import DagsterInstance
    from dagster_graphql import DagsterGraphQLClient

    port, env, tmp = ui
    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        instance = DagsterInstance.get()
        if not instance.has_dynamic_partition("quarter", "2026Q3"):
            instance.add_dynamic_partitions("quarter", ["2026Q3"])
    finally:
        if old is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = old
    client = DagsterGraphQLClient("127.0.0.1", port_number=port)
    run_id = client.submit_job_execution("quarterly_comparison", tags={"dagster/partition": "2026Q3"})
    deadline = time.time() + 400
    status = None
    while time.time() < deadline:
        status = client.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", (tmp / "ui.log").read_text()[-3000:]

    data = _gql(
        port,
        """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
              assetMaterializations(limit: 1) { partition metadataEntries { label
                 ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } } }""",
        {"key": {"path": ["flags"]}},
    )
    mat = data["assetOrError"]["assetMaterializations"][0]
    assert mat["partition"] == "2026Q3"
    labels = {e["label"] for e in mat["metadataEntries"]}
    assert "疑点总数" in labels and any(label.startswith("M02 ") for label in labels)
    import re

    text = repr(mat["metadataEntries"])
    assert not re.search(FULL_ID, text)

    checks = _gql(
        port,
        """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
              assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } } }""",
        {"key": {"path": ["extract_assistance"]}},
    )
    statuses = {
        c["name"]: (c["executionForLatestMaterialization"] or {}).get("status")
        for c in checks["assetNodeOrError"]["assetChecksOrError"]["checks"]
    }
    assert statuses["valid_id_share"] == "SUCCEEDED"

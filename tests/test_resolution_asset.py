"""The `source_records` asset on a temp warehouse: counts in metadata, never an unmasked ID."""

from __future__ import annotations

import base64
import json
import re

from dagster import DagsterInstance, materialize

from assets.resolution import retrain_person_model, source_records
from matchers.privacy import mask_id
from assets.resources import WarehouseResource
from matchers import warehouse
from matchers.resolution.model import Model
from matchers.resolution.resolve import DEFAULT_MODEL_PATH
from tests.test_resolution import A_ID, background, load, row


def _materialise_tiny_quarter(tmp_path, monkeypatch):
    """source_records on a tiny quarter (it falls back to the shipped model): its metadata."""
    monkeypatch.delenv("PERSON_MODEL_PATH", raising=False)
    monkeypatch.delenv("PERSON_ID_KEY", raising=False)
    wh_path = tmp_path / "data" / "warehouse.duckdb"
    con = warehouse.connect(wh_path)
    load(con, background() + [
        row("assistance", 1, "欧阳翠花", id_norm=A_ID),
        row("medical", 1, "欧阳翠花", id_kind="truncated", id_evidence="420115", id_raw="4.20115E+17"),
    ])
    con.close()
    resource = WarehouseResource(path=str(wh_path), extracts_dir=str(tmp_path), exports_dir=str(tmp_path))
    instance = DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("quarter", ["2026Q3"])
    result = materialize([source_records], partition_key="2026Q3", resources={"warehouse": resource},
                         instance=instance)
    assert result.success
    return result.asset_materializations_for_node("source_records")[0].metadata


def test_asset_materialises_with_masked_metadata(tmp_path, monkeypatch):
    md = _materialise_tiny_quarter(tmp_path, monkeypatch)
    assert md["行数"].value == 32
    text = json.dumps({k: str(v.value) for k, v in md.items() if k != "匹配权重图"}, ensure_ascii=False)
    assert not re.search(r"\d{17}[\dX]", text)
    assert (tmp_path / "data" / "person_id.key").exists()


def test_asset_page_shows_the_model_in_force_as_a_weights_chart_and_table(tmp_path, monkeypatch):
    md = _materialise_tiny_quarter(tmp_path, monkeypatch)
    shipped = Model.load(DEFAULT_MODEL_PATH)
    assert md["是否使用默认模型"].value == "是"
    assert "改用随程序提供的默认模型" in md["人员匹配模型"].value
    assert md["人员匹配模型sha256"].value == shipped.sha256()
    chart = re.fullmatch(r"!\[2026Q3 人员匹配权重[^]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)",
                         md["匹配权重图"].value)
    assert chart and base64.b64decode(chart.group(1)).startswith(b"\x89PNG")
    table = md["匹配权重表"].value.splitlines()
    assert len(table) == 2 + len(shipped.weight_rows())
    name_exact = next(r for r in shipped.weight_rows() if (r["comparison"], r["level"]) == ("name", "exact"))
    assert f"| 姓名 | {name_exact['level_label']} |" in md["匹配权重表"].value
    assert f"{name_exact['weight']:+.2f} |" in next(line for line in table if name_exact["level_label"] in line)


def test_retrain_job_writes_a_loadable_model(tmp_path):
    wh_path = tmp_path / "warehouse.duckdb"
    con = warehouse.connect(wh_path)
    load(con, background() + [row("assistance", 1, "欧阳翠花", id_norm=A_ID),
                               row("poverty", 1, "欧阳翠花", id_norm=A_ID)])
    con.close()
    out = tmp_path / "model.json"
    resource = WarehouseResource(path=str(wh_path), extracts_dir=str(tmp_path), exports_dir=str(tmp_path))
    res = retrain_person_model.execute_in_process(
        run_config={"ops": {"retrain_person_model_op": {"config": {"output_path": str(out)}}}},
        resources={"warehouse": resource},
    )
    assert res.success
    assert Model.load(out).trained_on["quarters"] == ["2026Q3"]


def test_mask_id():
    assert mask_id("42011519800305123X") == "4201**********123X"

"""The `source_records` asset on a temp warehouse: counts in metadata, never an unmasked ID."""

from __future__ import annotations

import json
import re

from dagster import DagsterInstance, materialize

from assets.resolution import retrain_person_model, source_records
from matchers.privacy import mask_id
from assets.resources import WarehouseResource
from matchers import warehouse
from tests.test_resolution import A_ID, background, load, row


def test_asset_materialises_with_masked_metadata(tmp_path, monkeypatch):
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
    md = result.asset_materializations_for_node("source_records")[0].metadata
    assert md["行数"].value == 32
    text = json.dumps({k: str(v.value) for k, v in md.items()}, ensure_ascii=False)
    assert not re.search(r"\d{17}[\dX]", text)
    assert (tmp_path / "data" / "person_id.key").exists()


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
    from matchers.resolution.model import Model

    assert Model.load(out).trained_on["quarters"] == ["2026Q3"]


def test_mask_id():
    assert mask_id("42011519800305123X") == "4201**********123X"

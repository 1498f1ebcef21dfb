"""The committed sample loads exactly as its ground truth says: every row accepted or rejected."""

from pathlib import Path

import polars as pl
import pytest

from assets.extracts import load_source
from matchers import warehouse
from matchers.contract import SOURCES

ROOT = Path(__file__).resolve().parent.parent
EXTRACTS = ROOT / "sample_data" / "extracts"
TRUTH = ROOT / "sample_data" / "truth"
KEY = ["source", "source_file", "source_row"]


@pytest.mark.parametrize("quarter", ["2026Q2", "2026Q3"])
def test_sample_quarter_rows_match_truth(tmp_path, quarter):
    con = warehouse.connect(tmp_path / "wh.duckdb")
    try:
        for source in SOURCES:
            load_source(con, str(EXTRACTS), quarter, source)
        accepted = pl.from_arrow(
            con.sql(f"SELECT source, source_file, source_row FROM stg_records WHERE quarter = '{quarter}'").to_arrow_table()
        )
        rejected = pl.from_arrow(
            con.sql(f"SELECT source, source_file, source_row, reason FROM stg_rejected WHERE quarter = '{quarter}'").to_arrow_table()
        )
        files = dict(
            con.execute(
                "SELECT source, sum(data_rows) FROM stg_files WHERE quarter = ? GROUP BY source", [quarter]
            ).fetchall()
        )
    finally:
        con.close()
    truth = pl.read_csv(TRUTH / quarter / "records.csv", infer_schema=False).with_columns(
        pl.col("source_row").cast(pl.Int32)
    )
    want_acc = truth.filter(pl.col("expected") == "accepted").select(KEY)
    want_rej = truth.filter(pl.col("expected") == "rejected").select(KEY)
    assert sorted(accepted.rows()) == sorted(want_acc.rows())
    assert sorted(rejected.select(KEY).rows()) == sorted(want_rej.rows())
    assert all("姓名为空" in r for r in rejected["reason"])
    for source in SOURCES:  # rows in the warehouse = data rows in the files − rejected rows
        n_acc = accepted.filter(pl.col("source") == source).height
        n_rej = rejected.filter(pl.col("source") == source).height
        assert n_acc == files[source] - n_rej

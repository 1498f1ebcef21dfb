"""Quarter arithmetic: parsing, quarter ends, and the two different earlier quarters."""

import datetime as dt

import duckdb
import pytest

from matchers.quarters import parse_quarter, previous_compared_quarter, previous_quarter_with_rows, quarter_end


def test_quarter_end_is_the_last_day_of_the_quarter():
    assert quarter_end("2026Q1") == dt.date(2026, 3, 31)
    assert quarter_end("2026Q3") == dt.date(2026, 9, 30)
    assert quarter_end("2026Q4") == dt.date(2026, 12, 31)


def test_a_malformed_quarter_is_refused_in_chinese():
    with pytest.raises(ValueError, match="季度格式应为 2026Q3"):
        parse_quarter("2026-3")


def test_previous_quarter_with_rows_and_previous_compared_quarter_differ():
    con = duckdb.connect()
    con.execute("CREATE TABLE stg_files (quarter VARCHAR, source VARCHAR)")
    con.execute("CREATE TABLE source_records (quarter VARCHAR)")
    con.execute("CREATE TABLE flags (quarter VARCHAR)")
    con.execute("INSERT INTO stg_files VALUES ('2026Q1', 'medical'), ('2026Q2', 'housing')")
    con.execute("INSERT INTO source_records VALUES ('2025Q4')")
    # the checks compare with the latest earlier quarter that has rows of that table (and source)
    assert previous_quarter_with_rows(con, "2026Q3") == "2026Q2"
    assert previous_quarter_with_rows(con, "2026Q3", "stg_files", "medical") == "2026Q1"
    # the rules compare with the latest quarter published or whose disability extract was staged
    assert previous_compared_quarter(con, "2026Q3") == "2025Q4"
    con.execute("INSERT INTO stg_files VALUES ('2026Q2', 'disability')")
    assert previous_compared_quarter(con, "2026Q3") == "2026Q2"

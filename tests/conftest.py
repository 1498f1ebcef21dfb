import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never touch the user's home or the project's real Dagster history.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def exported(tmp_path):
    """The small workbook warehouse (workbook_helpers) with its district workbooks exported:
    (connection, district → ExportedWorkbook, tmp_path)."""
    from matchers.reports.workbooks import export_district_workbooks
    from workbook_helpers import Q, make_warehouse

    con = make_warehouse(tmp_path)
    out = {w.district: w for w in export_district_workbooks(con, Q, tmp_path / "exports", actor="测试")}
    yield con, out, tmp_path
    con.close()

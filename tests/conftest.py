import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Tests never touch the user's home or the project's real Dagster history.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

import subprocess  # noqa: E402

SAMPLE_EXTRACTS = ROOT / "sample_data" / "extracts"


def pipeline_environment(tmp: Path, **extra) -> dict:
    """The environment of a `make run` in `tmp`: its own extracts, warehouse, exports and DAGSTER_HOME."""
    env = dict(os.environ)
    env.update(
        EXTRACTS_DIR=str(tmp / "extracts"),
        WAREHOUSE_PATH=str(tmp / "wh.duckdb"),
        EXPORTS_DIR=str(tmp / "exports"),
        DAGSTER_HOME=str(tmp / "dagster_home"),
        DAGSTER_DISABLE_TELEMETRY="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def pipeline_env():
    """pipeline_env(tmp, **extra): the environment of a `make run` whose folders are all in `tmp`."""
    return pipeline_environment


@pytest.fixture(scope="session")
def run_quarter_cli():
    """run_quarter_cli(tmp, quarter, *args, max_file_bytes=None, **env): `make run`'s entry point in a
    subprocess, finished; with max_file_bytes, no file can grow past that size (as on a full disk)."""

    def run(tmp: Path, quarter: str, *args: str, max_file_bytes: int | None = None, **extra):
        def start() -> None:
            os.umask(0o022)  # an ordinary login shell's umask, whatever pytest's is
            if max_file_bytes is not None:  # a full disk: writes past this size fail (EFBIG)
                import resource
                import signal

                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))

        return subprocess.run(
            [sys.executable, "-m", "pipelines.run_quarter", "--quarter", quarter, *args],
            cwd=ROOT, env=pipeline_environment(tmp, **extra), capture_output=True, text=True, timeout=600,
            preexec_fn=start,
        )

    return run


PUBLIC_TABLES = ("source_records", "persons", "flags", "household_members", "rejected_rows", "reviews")


@pytest.fixture(scope="session")
def published_tables():
    """published_tables(warehouse_path): every row of every public table, to compare before/after."""

    def snapshot(path: Path) -> dict:
        import duckdb

        con = duckdb.connect(str(path), read_only=True)
        try:
            return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in PUBLIC_TABLES}
        finally:
            con.close()

    return snapshot

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

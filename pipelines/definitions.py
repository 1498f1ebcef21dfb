"""The project's one Definitions: assets by stage, the quarterly job, schedules, sensors, resources."""

from __future__ import annotations

import os

from dagster import Definitions, EnvVar, colored_console_logger, in_process_executor

from assets.resources import (
    WarehouseResource,
    default_exports_dir,
    default_extracts_dir,
    default_warehouse_path,
)
from matchers.private_files import PRIVATE_UMASK
from pipelines.console import DAGSTER_LOGGER, FILE_LOGGER, OFFICER_LOGGER, officer_console, run_log_file
from pipelines.jobs import (
    QUARTERLY_JOB_NAME,
    all_asset_checks,
    all_assets,
    quarterly_comparison,
    retrain_person_model,
)
from pipelines.schedules import nightly_refresh
from pipelines.sensors import extract_files_sensor

__all__ = ["defs", "build_definitions", "QUARTERLY_JOB_NAME"]

# Every process that loads these Definitions (the UI's code server, run workers, `make run`) creates
# its files owner-only: run storage, compute logs, the warehouse and the exports hold personal data.
os.umask(PRIVATE_UMASK)


def _env_or_default(name: str, default: str):
    # Set: read at run time through EnvVar (the UI shows the variable's name). Unset: the default.
    return EnvVar(name) if os.environ.get(name) else default


def build_definitions(warehouse: WarehouseResource) -> Definitions:
    """The Definitions around one warehouse resource (tests pass one in a temporary folder)."""
    return Definitions(
        assets=all_assets,
        asset_checks=all_asset_checks,
        jobs=[quarterly_comparison, retrain_person_model],
        schedules=[nightly_refresh],
        sensors=[extract_files_sensor],
        resources={"warehouse": warehouse},
        # Runs started without logger config (UI, schedule, sensor) get Dagster's console logger.
        loggers={DAGSTER_LOGGER: colored_console_logger, OFFICER_LOGGER: officer_console, FILE_LOGGER: run_log_file},
        executor=in_process_executor,
    )


defs = build_definitions(
    WarehouseResource(
        path=_env_or_default("WAREHOUSE_PATH", default_warehouse_path()),
        extracts_dir=_env_or_default("EXTRACTS_DIR", default_extracts_dir()),
        exports_dir=_env_or_default("EXPORTS_DIR", default_exports_dir()),
    )
)

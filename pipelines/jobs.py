"""The assets by stage and the quarterly comparison job."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, load_asset_checks_from_modules, load_assets_from_modules

from assets import checks, extracts, flags, reports, resolution
from assets.partitions import quarter_partitions

# Stage order: ingestion → resolution → flags → reports.
ASSET_MODULES = [extracts, checks, resolution, flags, reports]

QUARTERLY_JOB_NAME = "quarterly_comparison"

all_assets = load_assets_from_modules(ASSET_MODULES)
all_asset_checks = load_asset_checks_from_modules(ASSET_MODULES)

retrain_person_model = resolution.retrain_person_model

quarterly_comparison = define_asset_job(
    name=QUARTERLY_JOB_NAME,
    selection=AssetSelection.all(),
    partitions_def=quarter_partitions,
    description="季度比对:导入六部门数据 → 规范化 → 人员匹配 → 疑点规则 → 核查名单与报表。",
)

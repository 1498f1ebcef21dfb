"""The console an officer reads during `make run`: one Chinese line per stage, in local time.

Two Dagster loggers:
- `officer_console`: prints what the assets say (their Chinese log lines), one result line when a
  stage finishes (persons matched, flags found, where the lists and reports were written), every
  asset-check warning, and a failed stage as one Chinese sentence (`pipelines.run_errors`). Dagster's
  own framing (run ids, step events, skipped steps, stack traces) is left out.
- `run_log_file`: the full Dagster log, framing and stack traces included, into a file next to the
  run storage (owner-only, IDs masked), for whoever has to look deeper.
`make run -v` shows Dagster's own console logger instead of `officer_console`.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import unicodedata
from pathlib import Path
from zoneinfo import ZoneInfo

from dagster import DagsterEventType, Field, logger

from assets.extracts import extract_asset_key
from matchers.contract import SOURCES
from matchers.privacy import mask_ids_in_text
from matchers.private_files import private_file_handler
from pipelines.run_errors import officer_message

# The bureau's clock: console times, the nightly schedule.
TIMEZONE = "Asia/Shanghai"
LOCAL_TZ = ZoneInfo(TIMEZONE)

# The stage each asset belongs to, as the officer names it (asset checks go with their asset).
STAGES: dict[str, str] = {
    **{extract_asset_key(s): "导入" for s in SOURCES},
    "source_records": "人员匹配",
    "flags": "疑点规则",
    "district_workbooks": "核查名单",
    "quarterly_report": "报表",
}
OFFICER_LOGGER, DAGSTER_LOGGER, FILE_LOGGER = "officer_console", "console", "run_log_file"


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def local_time(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now(dt.timezone.utc)).astimezone(LOCAL_TZ).strftime("%H:%M:%S")


def stage_of(step_key: str | None) -> str:
    """The stage of a step: its asset's, for an asset check's step (`<asset>_<check>`) too."""
    if not step_key:
        return "运行准备"
    for asset_key in sorted(STAGES, key=len, reverse=True):
        if step_key == asset_key or step_key.startswith(asset_key + "_"):
            return STAGES[asset_key]
    return step_key


def metadata_values(materialization) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in (materialization.metadata or {}).items()}


def _common_folder(paths: dict) -> str:
    folders = {str(Path(p).parent) for p in paths.values()}
    return folders.pop() if len(folders) == 1 else "、".join(sorted(folders))


def stage_result(asset: str, meta: dict[str, object]) -> str | None:
    """The one line saying what a finished stage produced (None: its own log lines said it)."""
    try:
        if asset == "source_records":
            return (f"{meta['行数']} 行数据匹配到 {meta['本季度人数']} 人"
                    f"(其中待核实匹配 {meta['待核实匹配行数']} 行)")
        if asset == "flags":
            return (f"疑点 {meta['疑点总数']} 条(本季度新增 {meta['本季度新增']},上季度延续 "
                    f"{meta['上季度延续']},已销号 {meta['已销号']})")
        if asset == "district_workbooks":
            files = meta["文件"] or {}
            return (f"核查名单 {meta['核查名单数']} 份(本次重新生成 {meta['本次重新生成的核查名单数']} 份),"
                    f"写入 {_common_folder(files) if files else '(无)'}")
        if asset == "quarterly_report":
            return f"报表 {len(meta['文件'] or {})} 份,全市报表 {meta['全市报表']}"
    except KeyError:
        return None
    return None


def check_warning(evaluation) -> str | None:
    """The line for an asset check that did not pass (None when it passed)."""
    if evaluation.passed:
        return None
    kind = "错误" if evaluation.severity.value == "ERROR" else "提醒"
    return f"{kind}:{evaluation.description or evaluation.check_name}"


def console_line(record: logging.LogRecord, log_path: str | None = None) -> str | None:
    """The officer's line for one Dagster log record, or None when the officer need not see it."""
    meta = getattr(record, "dagster_meta", None)
    if meta is None:
        return None
    event, stage = meta.get("dagster_event"), stage_of(meta.get("step_key"))
    text = None
    if event is None:
        message = str(meta.get("orig_message", ""))
        if is_chinese(message):  # the assets speak Chinese; Dagster's own notes are English
            text = ("注意:" if record.levelno >= logging.WARNING else "") + message
    elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        materialization = event.event_specific_data.materialization
        text = stage_result(materialization.asset_key.to_user_string(), metadata_values(materialization))
    elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        text = check_warning(event.event_specific_data)
    elif event.event_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.RESOURCE_INIT_FAILURE):
        data = event.event_specific_data
        failure = getattr(data, "user_failure_data", None)
        text = "失败:" + officer_message(
            getattr(data, "error", None), stage, getattr(failure, "description", None), log_path=log_path
        )
    if not text:
        return None
    return f"{local_time()} 【{stage}】{mask_ids_in_text(text)}"


class OfficerConsoleHandler(logging.Handler):
    def __init__(self, log_path: str | None):
        super().__init__(logging.DEBUG)  # Dagster logs materializations and check results at DEBUG
        self.log_path = log_path

    def emit(self, record: logging.LogRecord) -> None:
        line = console_line(record, self.log_path)
        if line:
            print(line, file=sys.stdout, flush=True)


@logger(
    {"log_path": Field(str, is_required=False, default_value="", description="完整运行日志的位置")},
    description="给业务人员看的中文控制台:每个阶段一行,北京时间,不含 Dagster 的技术信息。",
)
def officer_console(init_context) -> logging.Logger:
    log = logging.getLogger(f"officer_console.{init_context.run_id}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.handlers = [OfficerConsoleHandler(init_context.logger_config["log_path"] or None)]
    return log


class _MaskIds(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_ids_in_text(super().format(record))


@logger(
    {"path": Field(str, description="日志文件路径"), "log_level": Field(str, is_required=False, default_value="DEBUG")},
    description="完整的 Dagster 运行日志(含技术细节),写入文件,仅本人可读。",
)
def run_log_file(init_context) -> logging.Logger:
    cfg = init_context.logger_config
    log = logging.getLogger(f"run_log_file.{init_context.run_id}")
    log.setLevel(cfg["log_level"])
    log.propagate = False
    handler = private_file_handler(cfg["path"])
    handler.setFormatter(_MaskIds("%(asctime)s %(levelname)s %(message)s"))
    log.handlers = [handler]
    return log

"""The rule thresholds: RULES.md defaults, an officer-editable YAML file, per-district overrides.

The file is `pipelines/config/thresholds.yaml` unless the environment variable RULES_CONFIG names
another. Each setting is defined once, here (name, meaning, default); the file may change the
values, never invent a setting.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from matchers.contract import WUHAN_DISTRICTS

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "pipelines" / "config" / "thresholds.yaml"
CONFIG_ENV_VAR = "RULES_CONFIG"


@dataclass(frozen=True)
class Setting:
    name: str
    label: str  # what an officer calls it
    default: float
    is_ratio: bool = False


# RULES.md "Defaults", in the order of that table.
SETTINGS: tuple[Setting, ...] = (
    Setting("dibao_standard_monthly", "低保标准(元/人/月)", 800.0),
    Setting("monitoring_line_annual", "防返贫监测线(元/人/年)", 7800.0),
    Setting("income_drop_ratio", "收入大幅下降比例", 0.30, is_ratio=True),
    Setting("medical_burden_ratio", "医疗自付占家庭年收入比例", 0.50, is_ratio=True),
    Setting("medical_burden_amount", "医疗自付金额(元)", 20000.0),
    Setting("high_fee_tuition", "高收费学校年学费(元)", 20000.0),
)
SETTING_NAMES: tuple[str, ...] = tuple(s.name for s in SETTINGS)
DEFAULTS: dict[str, float] = {s.name: s.default for s in SETTINGS}


class RuleConfigError(ValueError):
    """The thresholds file cannot be used; the message says where and why, in Chinese."""


@dataclass(frozen=True)
class RuleConfig:
    defaults: dict[str, float]
    districts: dict[str, dict[str, float]] = field(default_factory=dict)
    source: str = "(内置默认值)"
    sha256: str | None = None
    warnings: tuple[str, ...] = ()

    def for_district(self, district: str | None) -> dict[str, float]:
        """The thresholds in force in a district: the defaults with that district's overrides."""
        values = dict(self.defaults)
        if district is not None:
            values.update(self.districts.get(district, {}))
        return values

    def table(self, districts: list[str | None] | tuple[str | None, ...] = ()) -> list[tuple]:
        """One row (district, value per setting) for each district given, each overridden one,
        and the default (district NULL). Rules join it on the flag's district."""
        names: list[str | None] = [None]
        for d in list(districts) + sorted(self.districts):
            if d is not None and d not in names:
                names.append(d)
        return [(d, *(self.for_district(d)[s] for s in SETTING_NAMES)) for d in names]


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH)


def _number(value: object, where: str, setting: Setting) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise RuleConfigError(f"{where} 的 {setting.name}({setting.label}) 应为数字,实际为 {value!r}")
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        raise RuleConfigError(
            f"{where} 的 {setting.name}({setting.label}) 应为数字,实际为 {value!r}"
        ) from None
    if not math.isfinite(number) or number <= 0:
        raise RuleConfigError(f"{where} 的 {setting.name}({setting.label}) 应为正数,实际为 {value!r}")
    if setting.is_ratio and number > 1:
        raise RuleConfigError(
            f"{where} 的 {setting.name}({setting.label}) 是比例,应在 0 到 1 之间,实际为 {value!r}"
        )
    return number


def _settings(block: object, where: str) -> dict[str, float]:
    if block is None:
        return {}
    if not isinstance(block, dict):
        raise RuleConfigError(f"{where} 应为“设置名: 数值”的列表")
    by_name = {s.name: s for s in SETTINGS}
    out: dict[str, float] = {}
    for key, value in block.items():
        if key not in by_name:
            raise RuleConfigError(
                f"{where} 中有未知的设置 {key!r};可用的设置为: {', '.join(SETTING_NAMES)}"
            )
        out[key] = _number(value, where, by_name[key])
    return out


def parse_config(text: str, source: str = "(文本)") -> RuleConfig:
    """Parse and validate the YAML text of a thresholds file."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RuleConfigError(f"阈值配置文件 {source} 不是有效的 YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RuleConfigError(f"阈值配置文件 {source} 应包含 defaults 和 districts 两节")
    unknown = set(data) - {"defaults", "districts"}
    if unknown:
        raise RuleConfigError(
            f"阈值配置文件 {source} 中有未知的节 {', '.join(sorted(map(str, unknown)))};只允许 defaults 和 districts"
        )
    defaults = dict(DEFAULTS)
    defaults.update(_settings(data.get("defaults"), f"{source} 的 defaults"))
    districts_block = data.get("districts") or {}
    if not isinstance(districts_block, dict):
        raise RuleConfigError(f"{source} 的 districts 应为“区名: 设置”的列表")
    districts: dict[str, dict[str, float]] = {}
    warnings: list[str] = []
    for district, block in districts_block.items():
        name = str(district).strip()
        districts[name] = _settings(block, f"{source} 的 districts.{name}")
        if name not in WUHAN_DISTRICTS:
            warnings.append(f"阈值配置中的区 {name!r} 不是武汉市的行政区名,请核对是否写错")
    return RuleConfig(
        defaults=defaults,
        districts=districts,
        source=source,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        warnings=tuple(warnings),
    )


def load_config(path: str | os.PathLike | None = None) -> RuleConfig:
    """Load the thresholds file (RULES_CONFIG, else pipelines/config/thresholds.yaml).

    A missing file is an error (a typo in RULES_CONFIG must not silently fall back to defaults).
    """
    p = Path(path) if path is not None else default_config_path()
    if not p.is_file():
        raise RuleConfigError(f"找不到阈值配置文件 {p}")
    return parse_config(p.read_text(encoding="utf-8"), source=str(p))

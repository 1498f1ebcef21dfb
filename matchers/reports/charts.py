"""The quarterly chart (flags by district and quarter), drawn with the CJK font bundled with the
project, on any machine.

The font is the Noto Sans CJK SC file of the `mplfonts` package (SIL Open Font License), which
installs with the project. Every text of the chart is drawn with a FontProperties made from that
file's path: no system font, no font name lookup and no matplotlib font cache is involved, so
the chart reads the same on a server with no Chinese font at all. The numbers on the value axis
are drawn in matplotlib's own DejaVu Sans, which ships inside matplotlib. The font file's sha256 is part
of the report's digest (FONT_IDENTITY): another font redraws every chart once.

matplotlib is imported only when a chart is drawn.

Pure library: no Dagster.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import warnings
from functools import lru_cache
from pathlib import Path

import polars as pl

from matchers.contract import WUHAN_DISTRICTS

from .labels import FAMILIES

FONT_PACKAGE, FONT_FILE = "mplfonts", "fonts/NotoSansCJKsc-Regular.otf"
NO_FLAGS_NOTE = "本季度无核查对象"
Y_LABEL = "核查对象数"


def font_path() -> Path:
    """The bundled font file, found without importing its package (which imports matplotlib)."""
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"缺少随项目安装的中文字体包 {FONT_PACKAGE}:请运行 make setup")
    return Path(list(spec.submodule_search_locations)[0]) / FONT_FILE


@lru_cache(maxsize=1)
def font_identity() -> str:
    """What identifies the chart font: its file name and sha256."""
    path = font_path()
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()}"


@lru_cache(maxsize=4)
def _font(size: float | None = None):
    from matplotlib.font_manager import FontProperties

    return FontProperties(fname=str(font_path()), size=size)


def _district_order(district: str) -> tuple[int, str]:
    order = {d: i for i, d in enumerate(WUHAN_DISTRICTS)}
    return order.get(district, len(order)), district


def _city_bars(ax, counts: pl.DataFrame, font) -> None:
    """Grouped bars of flags per district, one bar per quarter."""
    totals = counts.group_by("district", "quarter").agg(pl.col("n").sum())
    districts = sorted(set(totals["district"].to_list()), key=_district_order)
    quarters = sorted(set(totals["quarter"].to_list()))
    lookup = {(d, q): n for d, q, n in totals.iter_rows()}
    width = 0.8 / max(len(quarters), 1)
    for qi, q in enumerate(quarters):
        xs = [i + (qi - (len(quarters) - 1) / 2) * width for i in range(len(districts))]
        ax.bar(xs, [lookup.get((d, q), 0) for d in districts], width, label=q)
    ax.set_xticks(range(len(districts)), districts, rotation=30, ha="right", fontproperties=font)


def _district_bars(ax, counts: pl.DataFrame, district: str, font) -> None:
    """A district's flags per quarter, stacked by rule family."""
    part = counts.filter(pl.col("district") == district)
    quarters = sorted(set(part["quarter"].to_list()))
    lookup = {(q, f): n for _, q, f, n in part.iter_rows()}
    bottom = [0] * len(quarters)
    for fam, fam_name in FAMILIES.items():
        values = [lookup.get((q, fam), 0) for q in quarters]
        ax.bar(range(len(quarters)), values, 0.6, bottom=bottom, label=fam_name)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_xticks(range(len(quarters)), quarters, fontproperties=font)


def render_chart(counts: pl.DataFrame, title: str, district: str | None = None) -> bytes:
    """PNG bytes. City (`district` None): grouped bars of flags per district, one bar per quarter.
    A district: its flags per quarter, stacked by rule family. `counts`: district, quarter,
    family, n. Raises RuntimeError when the bundled font lacks a character (never silently boxes)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    font = _font()
    with rc_context({"axes.unicode_minus": False}), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = Figure(figsize=(10, 4.8), dpi=100)
        ax = fig.add_subplot()
        if district is None:
            _city_bars(ax, counts, font)
        else:
            _district_bars(ax, counts, district, font)
        if not len(counts):
            ax.text(0.5, 0.5, NO_FLAGS_NOTE, transform=ax.transAxes, ha="center", va="center", fontproperties=font)
        ax.set_title(title, fontproperties=font)
        ax.set_ylabel(Y_LABEL, fontproperties=font)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(prop=_font(8))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    if missing:
        raise RuntimeError(f"图表字体缺少字符:{missing[0]}")
    return buf.getvalue()

"""The model in force as officers see it on the `source_records` page: a match-weights chart (one
horizontal bar per comparison level, grouped by comparison, the way Splink draws its model) and a
small markdown table of the same weights. Input: Model.weight_rows()."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the chart is rendered to PNG bytes

import matplotlib.pyplot as plt  # noqa: E402
import mplfonts  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402

# The bundled CJK font, by file: the machine's own fonts may have no Chinese glyphs.
FONT_PATH = Path(mplfonts.__file__).parent / "fonts" / "NotoSansCJKsc-Regular.otf"
_AGREE, _AGAINST = "#2b8a3e", "#c92a2a"  # bars for evidence of one person / of two people


def weights_png(rows: list[dict], title: str) -> bytes:
    """The match-weights chart as PNG bytes."""
    font = FontProperties(fname=str(FONT_PATH), size=9)
    labels, weights, groups = [], [], []
    for r in rows:
        labels.append(f"{r['comparison_label']}:{r['level_label']}")
        weights.append(r["weight"])
        groups.append(r["comparison"])
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.2), dpi=100)
    y = list(range(len(rows)))[::-1]
    ax.barh(y, weights, color=[_AGREE if w >= 0 else _AGAINST for w in weights], height=0.7)
    for i in range(1, len(groups)):  # a line between comparisons
        if groups[i] != groups[i - 1]:
            ax.axhline(y[i] + 0.5, color="#adb5bd", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontproperties=font)
    ax.set_xlabel("匹配权重(log2 m/u;正数支持同一人,负数支持不同人)", fontproperties=font)
    ax.set_title(title, fontproperties=FontProperties(fname=str(FONT_PATH), size=11))
    ax.margins(y=0.01)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def weights_chart_markdown(rows: list[dict], title: str) -> str:
    """The chart as a markdown image (base64 PNG), for MetadataValue.md."""
    data = base64.b64encode(weights_png(rows, title)).decode("ascii")
    return f"![{title}](data:image/png;base64,{data})"


def weights_table_markdown(rows: list[dict]) -> str:
    """One line per comparison level: m, u, weight."""
    lines = ["| 比较项 | 级别 | m | u | 权重 |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['comparison_label']} | {r['level_label']} | {r['m']:.4g} | {r['u']:.4g} | {r['weight']:+.2f} |"
        )
    return "\n".join(lines)

"""The overview's per-quarter chart as inline SVG (no JavaScript, no image files)."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 560, 220, 36
BAR_COLOURS = {"n": "#4a78b5", "new": "#e39b3b", "decided": "#5a9e6f"}
BAR_LABELS = {"n": "疑点数", "new": "新增", "decided": "已核查"}


def quarter_chart(per_quarter: list[dict]) -> Markup:
    """Grouped bars per quarter: flags, new flags, flags with a decision."""
    if not per_quarter:
        return Markup("")
    top = max(max(r[k] for k in BAR_COLOURS) for r in per_quarter) or 1
    group = (WIDTH - 2 * PAD) / len(per_quarter)
    bar = min(40.0, group / (len(BAR_COLOURS) + 1))
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT + 40}" role="img" aria-label="各季度疑点数">',
             f'<line x1="{PAD}" y1="{HEIGHT}" x2="{WIDTH - PAD}" y2="{HEIGHT}" stroke="#999"/>']
    for i, r in enumerate(per_quarter):
        x0 = PAD + i * group + (group - bar * len(BAR_COLOURS)) / 2
        for j, (key, colour) in enumerate(BAR_COLOURS.items()):
            h = (HEIGHT - PAD) * r[key] / top
            x = x0 + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(r["quarter"])} {BAR_LABELS[key]} {r[key]}</title></rect>')
            parts.append(f'<text x="{x + bar / 2 - 1:.1f}" y="{HEIGHT - h - 4:.1f}" font-size="11" '
                         f'text-anchor="middle">{r[key]}</text>')
        parts.append(f'<text x="{PAD + i * group + group / 2:.1f}" y="{HEIGHT + 18}" font-size="13" '
                     f'text-anchor="middle">{escape(r["quarter"])}</text>')
    for j, (key, colour) in enumerate(BAR_COLOURS.items()):
        parts.append(f'<rect x="{PAD + j * 90}" y="{HEIGHT + 26}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{PAD + j * 90 + 16}" y="{HEIGHT + 37}" font-size="12">{BAR_LABELS[key]}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))

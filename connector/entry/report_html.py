"""The evaluation as one self-contained HTML page: three inline SVG plots and the tables, nothing fetched.

Presentation only, and pure: an `EvaluationRun` in, the page's text out. The plots are drawn here (a few
rectangles, lines and labels each), so the page opens offline and needs no plotting library.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from connector.scoring.evaluate import MIN_BAND, MIN_CLASS, MIN_DECILES, Evaluation
from connector.scoring.simulate import BANDS_HOT_FIRST
from connector.shell.evaluate import EvaluationRun

WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
COLOURS = ("#1f6feb", "#d9480f", "#2b8a3e", "#862e9c")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 60rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
svg { display: block; margin: 1rem 0; background: #fafafa; }
svg text { font-size: 11px; fill: #333; }
.note { color: #666; font-size: .9rem; }
"""


def _pct(value: float | None) -> str:
    return f"{value:.1%}" if value is not None else "not enough data"


def _x(share: float) -> float:
    return LEFT + share * (WIDTH - LEFT - RIGHT)


def _y(share: float, top: float) -> float:
    return HEIGHT - BOTTOM - (share / top if top else 0) * (HEIGHT - TOP - BOTTOM)


def _frame(ident: str, title: str, top: float, x_label: str) -> list[str]:
    """The plot's box, title, y axis in percent up to `top` and the x axis label."""
    parts = [
        f'<svg id="{ident}" role="img" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}"'
        ' stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#333"/>',
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
    ]
    step = _tick_step(top)
    for k in range(round(top / step) + 1):
        value = step * k
        y = _y(value, top)
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#333"/>')
        label = f"{value:.1%}" if step < 0.01 or step == 0.025 else f"{value:.0%}"
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def _tick_step(top: float) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving at most 5 ticks up to `top`."""
    for step in (0.001, 0.002, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25):
        if top / step <= 5 + 1e-9:
            return step
    return 0.25


def _nice_top(high: float) -> float:
    """The axis top: 15 % above the highest value, rounded up to a tick, at most 100 %."""
    raw = min(1.0, high * 1.15) or 0.1
    step = _tick_step(raw)
    return min(1.0, math.ceil(raw / step - 1e-9) * step)


def _legend(labels: Sequence[str], *, low: bool = False) -> list[str]:
    """The rule sets' colours, top right (or bottom right, where a gains curve leaves room)."""
    parts = []
    first = HEIGHT - BOTTOM - 8 - 14 * len(labels) if low else TOP + 4
    for index, label in enumerate(labels):
        x = WIDTH - RIGHT - 150
        y = first + index * 14
        colour = COLOURS[index % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="{y}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{y + 9}">{escape(label)}</text>')
    return parts


def _bars(
    ident: str,
    title: str,
    groups: Sequence[str],
    values: Sequence[Sequence[tuple[float, float, float] | None]],
    labels: Sequence[str],
) -> str:
    """Grouped bars (one per rule set in each group), each (rate, low, high) with its interval drawn."""
    highs = [v[2] for series in values for v in series if v is not None]
    top = _nice_top(max(highs, default=0.1))
    parts = _frame(ident, title, top, "")
    slot = (WIDTH - LEFT - RIGHT) / len(groups)
    width = slot * 0.7 / max(1, len(values))
    for g, group in enumerate(groups):
        x0 = LEFT + g * slot + slot * 0.15
        parts.append(
            f'<text x="{LEFT + (g + 0.5) * slot:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
        )
        parts.append(f"{escape(group)}</text>")
        for s, series in enumerate(values):
            value = series[g]
            x = x0 + s * width
            if value is None:
                parts.append(
                    f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM - 4}" text-anchor="middle">n/a</text>'
                )
                continue
            rate, low, high = value
            colour = COLOURS[s % len(COLOURS)]
            y = _y(rate, top)
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{width * 0.9:.1f}"'
                f' height="{HEIGHT - BOTTOM - y:.1f}" fill="{colour}"/>'
            )
            if low != high:
                centre = x + width * 0.45
                parts.append(
                    f'<line class="interval" x1="{centre:.1f}" y1="{_y(low, top):.1f}" x2="{centre:.1f}"'
                    f' y2="{_y(high, top):.1f}" stroke="#000"/>'
                )
    return "\n".join(parts + _legend(labels) + ["</svg>"])


def _gains(results: Sequence[Evaluation], labels: Sequence[str]) -> str:
    parts = _frame("plot-gains", "Cumulative gains: share of outcomes among the highest scores", 1.0, "")
    parts.append(
        f'<line x1="{_x(0):.1f}" y1="{_y(0, 1):.1f}" x2="{_x(1):.1f}" y2="{_y(1, 1):.1f}"'
        ' stroke="#999" stroke-dasharray="4 3"/>'
    )
    for k in range(5):
        parts.append(
            f'<text x="{_x(k / 4):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">{k / 4:.0%}</text>'
        )
    for index, result in enumerate(results):
        if not result.gains:
            continue
        points = " ".join(f"{_x(a):.1f},{_y(b, 1):.1f}" for a, b in result.gains)
        colour = COLOURS[index % len(COLOURS)]
        parts.append(
            f'<polyline class="gains" points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    return "\n".join(parts + _legend(labels, low=True) + ["</svg>"])


def _band_table(result: Evaluation) -> str:
    rows = [
        "<tr><th>band</th><th>n</th><th>outcomes</th><th>rate</th><th>95 % interval</th><th>lift</th></tr>"
    ]
    for row in result.bands:
        interval = f"{row.low:.1%}-{row.high:.1%}" if row.low is not None and row.high is not None else "—"
        lift = f"{row.lift:.2f}x" if row.lift is not None else "not enough data"
        rows.append(
            f"<tr><td>{escape(row.band)}</td><td>{row.n}</td><td>{row.outcomes}</td><td>{_pct(row.rate)}</td>"
            f"<td>{interval}</td><td>{lift}</td></tr>"
        )
    return '<table class="bands">' + "".join(rows) + "</table>"


def _overall_table(results: Sequence[Evaluation], labels: Sequence[str]) -> str:
    rows = ["<tr><th>rules</th><th>evaluated</th><th>outcomes</th><th>base rate</th><th>AUC</th>"]
    rows.append("<th>top-decile lift</th></tr>")
    for label, result in zip(labels, results, strict=True):
        auc = f"{result.auc:.3f}" if result.auc is not None else "not enough data"
        lift = f"{result.top_decile_lift:.2f}x" if result.top_decile_lift is not None else "not enough data"
        rows.append(
            f"<tr><td>{escape(label)}</td><td>{result.n}</td><td>{result.outcomes}</td>"
            f"<td>{_pct(result.base_rate)}</td><td>{auc}</td><td>{lift}</td></tr>"
        )
    return '<table class="overall">' + "".join(rows) + "</table>"


def render(run: EvaluationRun, labels: Sequence[str]) -> str:
    """The whole page: what was evaluated, the overall table, the three plots, a band table per rule set."""
    results = run.results
    band_values = [
        [
            (r.rate, r.low, r.high)
            if r.rate is not None and r.low is not None and r.high is not None
            else None
            for r in result.bands
        ]
        for result in results
    ]
    decile_values = [
        [(d, d, d) for d in result.deciles] if result.deciles is not None else [None] * 10
        for result in results
    ]
    first, last = run.snapshots[0], run.snapshots[-1]
    title = f"msr-engage evaluation: {run.outcome} within {run.horizon.days} days"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">{len(run.snapshots)} snapshots from {first:%Y-%m-%d} to {last:%Y-%m-%d}. Each'
        " snapshot scores the candidates not yet past the outcome from the events before it only; an"
        " outcome counts when reached within the horizon after it; \u201cno score\u201d are candidates"
        " known from an event before it who had no points then. Below"
        f" {MIN_BAND} observations a band's rate is not enough data; the AUC needs {MIN_CLASS} outcomes"
        f" and {MIN_CLASS} non-outcomes, the deciles {MIN_DECILES} observations.</p>",
        _overall_table(results, labels),
        _bars(
            "plot-bands", "Outcome rate by band (95 % Wilson interval)", BANDS_HOT_FIRST, band_values, labels
        ),
        _gains(results, labels),
        _bars(
            "plot-deciles",
            "Outcome rate by score decile (highest first)",
            [f"D{k + 1}" for k in range(10)],
            decile_values,
            labels,
        ),
    ]
    for label, result in zip(labels, results, strict=True):
        body += [f"<h2>Bands: {escape(label)}</h2>", _band_table(result)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )

"""The summary report as one self-contained HTML page of plotly charts.

Self-contained: plotly.js is embedded inline once (``include_plotlyjs=True`` on the first chart
only), so the page draws with no network. plotly was chosen over Vega-Lite (altair + vl-convert)
because it is one pure-Python dependency, draws SVG a browser test can count, and gives hover
values and zoom without more code; the cost is the page's size (plotly.js is ~4.8 MB; ~1.5 MB
gzipped).

Escaping: text in the page is escaped with ``html.escape``; every label handed to plotly (product
names, category and channel values) is escaped too, because plotly reads a subset of HTML in
labels (``<b>``, ``<a href>``, ``<br>``) and shows entities as the characters they stand for. The
figures' JSON is written by plotly with ``<``, ``>`` and ``/`` as ``\\u`` escapes, so no value can
close the script element it sits in.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from html import escape
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from queries.analytics import Group
from queries.report import Distribution, SummaryReport

FONT = (
    '"Segoe UI", "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", '
    "Helvetica, Arial, sans-serif"
)
FILED, CLOSED, MET, LATE = "#2b6cb0", "#38a169", "#2f855a", "#c05621"
STYLE = f"""
body {{ font: 14px/1.45 {FONT}; margin: 1.5em 2em; color: #1a202c; background: #f7fafc; }}
h1 {{ font-size: 22px; margin: 0 0 .2em; }} .meta {{ color: #4a5568; margin: 0 0 1em; }}
.tiles {{ display: flex; flex-wrap: wrap; gap: .6em; margin-bottom: 1em; }}
.tile {{ background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: .5em .9em;
min-width: 9em; }} .tile b {{ display: block; font-size: 20px; }}
.tile span {{ color: #4a5568; font-size: 12px; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr));
gap: 1em; }} .chart {{ background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; }}
.wide {{ grid-column: 1 / -1; }} footer {{ color: #718096; font-size: 12px; margin-top: 1em; }}
@media print {{ body {{ background: #fff; margin: 0; }} .chart {{ break-inside: avoid; }} }}
"""
CONFIG = {"displaylogo": False, "responsive": True}
NO_DATA = "No complaints in this period"


def _plotly_text(text: str) -> str:
    """``text`` as plotly shows it literally: its tags escaped. Not its quotes: plotly turns
    ``&lt;``, ``&gt;`` and ``&amp;`` back into characters but not ``&quot;``, and with no tag
    there is no attribute a quote could end."""
    return escape(text, quote=False)


def _label(value: str | None, missing: str) -> str:
    return _plotly_text(value) if value else missing


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


def _percent(rate: float | None) -> str:
    return "–" if rate is None else f"{100 * rate:.1f} %"


def _percents(groups: Sequence[Group], field: str) -> list[float | None]:
    return [None if (r := getattr(g, field)) is None else round(100 * r, 1) for g in groups]


def _figure(
    title: str, traces: Sequence[Any], empty: bool, *, no_data: str = NO_DATA, **layout: Any
) -> go.Figure:
    figure = go.Figure(data=list(traces))
    figure.update_layout(
        title={"text": _plotly_text(title), "x": 0.02, "y": 0.97}, height=360,
        margin={"l": 60, "r": 30, "t": 70, "b": 60}, font={"family": FONT},
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                "yanchor": "bottom"},
        **layout,
    )
    if empty:
        figure.add_annotation(text=no_data, showarrow=False, x=0.5, y=0.5, xref="paper",
                              yref="paper", font={"size": 16, "color": "#718096"})
    return figure


def volume_trend(report: SummaryReport) -> go.Figure:
    keys = [_plotly_text(g.key or "") for g in report.periods]
    return _figure(
        f"Volume per {report.group_by}: filed and closed",
        [go.Bar(name="filed", x=keys, y=[g.filed for g in report.periods], marker_color=FILED),
         go.Bar(name="closed", x=keys, y=[g.closed for g in report.periods],
                marker_color=CLOSED)],
        not report.periods, barmode="group", xaxis={"type": "category"},
        yaxis={"title": "complaints"},
    )


def category_pareto(report: SummaryReport) -> go.Figure:
    groups = [g for g in report.categories if g.filed]
    total = sum(g.filed for g in groups)
    running, cumulative = 0, []
    for g in groups:
        running += g.filed
        cumulative.append(round(100 * running / total, 1))
    names = [_label(g.key, "(none)") for g in groups]
    return _figure(
        "Categories (Pareto): filed, and cumulative share",
        [go.Bar(name="filed", x=names, y=[g.filed for g in groups], marker_color=FILED),
         go.Scatter(name="cumulative %", x=names, y=cumulative, yaxis="y2",
                    mode="lines+markers", line={"color": LATE})],
        not groups, xaxis={"type": "category"}, yaxis={"title": "filed"},
        yaxis2={"title": "cumulative %", "overlaying": "y", "side": "right",
                "range": [0, 105], "tickvals": [0, 20, 40, 60, 80, 100], "ticksuffix": "%",
                "showgrid": False},
    )


def channel_mix(report: SummaryReport) -> go.Figure:
    groups = [g for g in report.channels if g.filed]
    return _figure(
        "Channel mix (filed)",
        [go.Pie(labels=[_label(g.key, "(none)") for g in groups],
                values=[g.filed for g in groups], hole=0.45, sort=False)],
        not groups,
    )


def duration_histogram(title: str, d: Distribution, colour: str, no_data: str) -> go.Figure:
    summary = f"{title}: {d.count} complaints, mean {_hours(d.mean_seconds)}, median " \
        f"{_hours(d.median_seconds)}"
    return _figure(
        summary,
        [go.Bar(x=[b.label for b in d.bins], y=[b.count for b in d.bins], marker_color=colour,
                name="complaints")],
        not d.count, no_data=no_data,
        xaxis={"type": "category", "title": "time from receipt"},
        yaxis={"title": "complaints"}, bargap=0.05,
    )


def sla_compliance(report: SummaryReport) -> go.Figure:
    keys = [_plotly_text(g.key or "") for g in report.periods]
    return _figure(
        f"SLA compliance per {report.group_by}: share of clocks met",
        [go.Scatter(name="first response met", x=keys,
                    y=_percents(report.periods, "first_response_met_rate"),
                    mode="lines+markers", line={"color": FILED}, connectgaps=False),
         go.Scatter(name="resolution met", x=keys,
                    y=_percents(report.periods, "resolution_met_rate"),
                    mode="lines+markers", line={"color": MET}, connectgaps=False)],
        report.totals.first_response_met_rate is None
        and report.totals.resolution_met_rate is None,
        no_data="No SLA clock ended in this period",
        xaxis={"type": "category"}, yaxis={"range": [0, 105], "ticksuffix": "%"},
    )


def top_products(report: SummaryReport) -> go.Figure:
    shown = list(reversed(report.top_products))  # the largest at the top of the bars
    return _figure(
        "Top products (filed)",
        [go.Bar(orientation="h", y=[_label(p.product, "(no product)") for p in shown],
                x=[p.filed for p in shown], marker_color=FILED, name="filed")],
        not shown, yaxis={"type": "category", "automargin": True}, xaxis={"title": "filed"},
    )


def charts(report: SummaryReport) -> list[tuple[go.Figure, bool]]:
    """The charts in page order, each with whether it spans the page's width."""
    return [
        (volume_trend(report), True),
        (category_pareto(report), False),
        (channel_mix(report), False),
        (duration_histogram("First response", report.first_response, FILED,
                            "No first response in this period"), False),
        (duration_histogram("Resolution", report.resolution, MET,
                            "No complaint closed in this period"), False),
        (sla_compliance(report), False),
        (top_products(report), False),
    ]


def _tiles(report: SummaryReport) -> str:
    t = report.totals
    tiles = [
        ("filed", str(t.filed)), ("closed", str(t.closed)), ("reopened", str(t.reopened)),
        ("mean first response", _hours(t.mean_first_response_seconds)),
        ("mean resolution", _hours(t.mean_resolution_seconds)),
        ("first response SLA met", _percent(t.first_response_met_rate)),
        ("resolution SLA met", _percent(t.resolution_met_rate)),
        ("first-contact resolution", _percent(t.first_contact_resolution_rate)),
    ]
    return "".join(f'<div class="tile"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                   for k, v in tiles)


@cache
def _template() -> dict[str, Any]:
    # Set on each figure's dict, not through the figure: plotly validates and deep-copies a
    # template given to a figure, which was most of the page's rendering time.
    return pio.templates["plotly_white"].to_plotly_json()  # type: ignore[no-any-return]


def render_report(report: SummaryReport) -> str:
    parts = []
    for n, (figure, wide) in enumerate(charts(report)):
        spec = figure.to_plotly_json()
        spec["layout"]["template"] = _template()
        div = pio.to_html(
            spec, config=CONFIG, validate=False, full_html=False, include_plotlyjs=n == 0,
            default_height="360px", div_id=f"chart-{n + 1}",
        )
        parts.append(f'<div class="chart{" wide" if wide else ""}">{div}</div>')
    period = f"{report.from_.isoformat()} to {report.to.isoformat()}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Complaints report {escape(period)}</title><style>{STYLE}</style></head><body>"
        f"<h1>Complaints report: {escape(period)}</h1>"
        f'<p class="meta">Days cut in {escape(report.zone)}, per {escape(report.group_by)}; '
        f"generated {escape(report.generated_at.isoformat(timespec='seconds'))}</p>"
        f'<div class="tiles">{_tiles(report)}</div><div class="grid">{"".join(parts)}</div>'
        "<footer>Volume, categories, channels and SLA compliance: the analytics view (as "
        "GET /analytics/summary). Durations and products: the complaint list view; resolution "
        "counts complaints still closed, by their last close.</footer></body></html>\n"
    )

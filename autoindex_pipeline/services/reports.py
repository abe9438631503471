"""Daily, weekly and monthly performance reports from the warehouse (seed 003's reports).

For every strategy's current version and every period kind, the report of the period holding
the newest index session (period to date) and of the period before it (complete), stored as
rows (replacing those periods' rows: re-running changes nothing) and rendered to Markdown, an
HTML page and a PNG chart under ``<data_dir>/reports/<strategy>/``.

Only reports that changed are drawn again. Every report's figures are computed on each run
(cheap, and the report checks judge them all), then fingerprinted together with the series its
chart draws; a report whose fingerprint equals the one stored in ``performance_report_renders``
when it was last rendered, with its page and chart still on disk, is neither re-rendered nor
re-stored. A daily run after a new session therefore draws the current day, week and month
(whose figures moved) and leaves the previous periods alone; a correction inside last month
changes that month's figures (or its since-inception chart) and redraws it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.domain.performance import PerformanceReport, period_bounds, period_report
from autoindex_pipeline.reporting.charts import render_chart_png
from autoindex_pipeline.reporting.performance import render_html, render_markdown
from autoindex_pipeline.services.returns import read_clean_returns
from autoindex_pipeline.services.ui_figures import index_figures
from autoindex_pipeline.warehouse.reports import (
    read_allocation_targets,
    read_index_frame,
    read_render_fingerprints,
    replace_report_rows,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

PERIODS = ("daily", "weekly", "monthly")
# Part of every fingerprint: change it when the page or the chart is drawn differently, so the
# stored reports are drawn again the next run even though their figures did not move.
RENDER_VERSION = "1"


@dataclass
class RenderedReport:
    """One report of this run. ``rendered``: drawn (and to be stored) by this run; False when its
    fingerprint matched the stored one and the page and chart on disk are the ones it shows."""

    report: PerformanceReport
    markdown: str
    html_path: Path
    png_path: Path
    fingerprint: str = ""
    rendered: bool = True


def _report_dates(last: pd.Timestamp, period: str) -> list[pd.Timestamp]:
    """The newest session's period and the one before it."""
    start, _, _ = period_bounds(last, period)
    return [pd.Timestamp(start) - pd.Timedelta(days=1), last]


def _chart_inputs(report: PerformanceReport, index: pd.DataFrame, bench: pd.DataFrame | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """What the report's chart draws: since inception, up to the end of its period. Since
    inception, not the period alone: the page's context figures are since inception, and the
    drawing costs about the same either way (measured 0.37 s for 250 sessions, 0.41 s for
    2,500: the fixed cost of a figure dominates)."""
    shown = index["date"] <= pd.Timestamp(report.period_end)
    return index[shown], None if bench is None else bench[shown]


# Significant digits a figure (and a chart's series) is fingerprinted to. An index extended
# session by session and the same index recomputed in full differ by ~1e-15 relative, as do the
# same returns read over two windows: bitwise, such a recomputation would redraw every report,
# and any rounding can still flip a value lying on a rounding boundary, with a probability of
# about that noise over the rounding step per value. 9 digits for the figures (a page shows
# two decimals of a percentage; ~2,000 values a report: one redundant redraw in ~500 full
# recomputations), 6 for the chart's series (a pixel is about 0.1 % of its height; ~10,000
# values: one in ~100,000). A change below that is not a change of the report: its stored rows
# then stay those of its last rendering, within 1e-9 relative of a fresh computation.
FINGERPRINT_DIGITS = 9
CHART_DIGITS = 6


def _rounded(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.{FINGERPRINT_DIGITS}g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def report_fingerprint(report: PerformanceReport, markdown: str, chart_index: pd.DataFrame,
                       chart_bench: pd.DataFrame | None, benchmark_label: str) -> str:
    """sha256 of everything the stored rows, the page and the chart are made of: the rows as
    stored (figures to :data:`FINGERPRINT_DIGITS` significant digits), the page's text without
    its chart, and the chart's series (to :data:`CHART_DIGITS`)."""
    digest = hashlib.sha256(RENDER_VERSION.encode())
    for part in (report.rows(), report.contributor_rows(), report.allocation_change_rows()):
        digest.update(repr(_rounded(part)).encode())
    for text in (render_html(report, None), markdown, benchmark_label):
        digest.update(text.encode())
    for frame in (chart_index, chart_bench):
        if frame is not None:
            digest.update(frame.to_csv(index=False, float_format=f"%.{CHART_DIGITS}g").encode())
    return digest.hexdigest()


def _render(report: PerformanceReport, markdown: str, fingerprint: str, chart: tuple[pd.DataFrame, pd.DataFrame | None],
            folder: Path, benchmark_label: str) -> RenderedReport:
    """The report's chart, page and Markdown."""
    stem = f"{report.period}_{report.label}"
    png = render_chart_png(
        chart[0], chart[1], folder / f"{stem}.png",
        title=f"{report.strategy}: {report.label} (since inception)",
        index_label=report.strategy, benchmark_label=benchmark_label,
    )
    html_path = folder / f"{stem}.html"
    html_path.write_text(render_html(report, png, embed=True))
    return RenderedReport(report, markdown, html_path, png, fingerprint)


def _strategy_reports(engine: sa.Engine, config: AutoIndexConfig, name: str, out_dir: Path,
                      stored: dict[tuple[str, str, str, str], str]) -> list[RenderedReport]:
    strat = config.strategies[name]
    index = read_index_frame(engine, name, strat.version)
    if len(index) < 2:
        return []
    last = index["date"].iloc[-1]
    first_needed = min(pd.Timestamp(period_bounds(d, "monthly")[0]) for d in _report_dates(last, "monthly"))
    # The targets of the last rebalance on or before ten days before the earliest period, and
    # every later one: every date the reports look up (the rebalance their holdings drift from,
    # the session before a period's first) is among them, so the reports are those the whole
    # history gives (test), read in rows proportional to two months, not to the history.
    allocations = read_allocation_targets(engine, name, strat.version, since=first_needed - pd.Timedelta(days=10))
    # Contributors drift the targets from the last rebalance before a period's start: read the
    # returns from there, or a report's figures would depend on the day it was computed (last
    # month's report of a monthly strategy drifted from a rebalance before the window read).
    rebalances = allocations.loc[allocations["date"] <= first_needed, "date"]
    if len(rebalances):
        first_needed = min(first_needed, rebalances.max())
    sessions = sessions_between(first_needed - pd.Timedelta(days=10), last, config.prices.calendar)
    # The index's own reading of prices (exclude overrides applied), so contributors explain it.
    returns = read_clean_returns(
        engine, config.symbols, sessions, strat.max_forward_fill_days, strat.min_daily_return, strat.max_daily_return
    ).returns
    bench = index.loc[:, ["date", "benchmark_level", "benchmark_return"]].rename(
        columns={"benchmark_level": "level", "benchmark_return": "daily_return"})
    bench = None if bench["level"].isna().all() else bench
    folder = out_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for period in PERIODS:
        for as_of in _report_dates(last, period):
            if as_of < index["date"].iloc[0]:
                continue
            report = period_report(
                index.loc[:, ["date", "level", "daily_return", "turnover", "is_rebalance"]], bench, allocations,
                returns, period, as_of, strategy=name, risk_free_rate=strat.risk_free_rate,
                calendar=config.prices.calendar,
            )
            markdown = render_markdown(report)
            chart = _chart_inputs(report, index, bench)
            fingerprint = report_fingerprint(report, markdown, *chart, config.universe.benchmark)
            stem = folder / f"{report.period}_{report.label}"
            html_path, png_path = stem.with_suffix(".html"), stem.with_suffix(".png")
            if (stored.get((name, strat.version, report.period, report.label)) == fingerprint
                    and html_path.is_file() and png_path.is_file()):
                out.append(RenderedReport(report, markdown, html_path, png_path, fingerprint, rendered=False))
                continue
            out.append(_render(report, markdown, fingerprint, chart, folder, config.universe.benchmark))
    return out


def build_reports(engine: sa.Engine, config: AutoIndexConfig, out_dir: Path) -> list[RenderedReport]:
    """Every strategy's reports (see the module doc) under ``out_dir/<strategy>/``; only those
    whose fingerprint changed are rendered."""
    stored = read_render_fingerprints(engine)
    return [item for name in config.strategies for item in _strategy_reports(engine, config, name, out_dir, stored)]


UI_CHART = "ui_chart.md"


def ui_charts(engine: sa.Engine, config: AutoIndexConfig, reports: list[RenderedReport], out_dir: Path) -> dict[str, str]:
    """strategy -> the UI's index-vs-benchmark chart (Markdown image) for the asset's metadata.
    Drawn again only for a strategy with a report rendered this run: otherwise its current
    month's fingerprint, which covers every index row it draws, is unchanged, and the copy kept
    in ``out_dir/<strategy>/ui_chart.md`` when it was last drawn is that chart."""
    charts: dict[str, str] = {}
    redraw = {r.report.strategy for r in reports if r.rendered}
    for name in {r.report.strategy for r in reports} - redraw:
        kept = out_dir / name / UI_CHART
        if kept.is_file():
            charts[name] = kept.read_text()
        else:
            redraw.add(name)
    if redraw:
        for name, chart in index_figures(engine, config).charts.items():
            if name in redraw:
                charts[name] = chart
                (out_dir / name).mkdir(parents=True, exist_ok=True)
                (out_dir / name / UI_CHART).write_text(chart)
    return charts


def store_reports(engine: sa.Engine, config: AutoIndexConfig, rendered: list[RenderedReport]) -> int:
    """Replace the stored rows and fingerprint of every (strategy, version, period, label) this
    run rendered, in one transaction (the unchanged ones keep theirs); the number of figure
    rows written."""
    now = dt.datetime.now(dt.UTC)
    rendered = [item for item in rendered if item.rendered]
    figures, contributors, changes, renders = [], [], [], []
    for item in rendered:
        r = item.report
        version = config.strategies[r.strategy].version
        extra = {"version": version, "period_end": r.period_end, "computed_at": now}
        figures += [{**row, **extra} for row in r.rows()]
        contributors += [{**row, **extra} for row in r.contributor_rows()]
        changes += [{**row, **extra} for row in r.allocation_change_rows()]
        renders.append({"strategy": r.strategy, "version": version, "period": r.period, "label": r.label,
                        "fingerprint": item.fingerprint, "as_of": r.as_of, "rendered_at": now})
    periods = {(r.report.strategy, config.strategies[r.report.strategy].version, r.report.period, r.report.label) for r in rendered}
    replace_report_rows(engine, sorted(periods), {"figures": figures, "contributors": contributors, "allocation_changes": changes,
                                               "renders": renders})
    return len(figures)

"""Daily, weekly and monthly performance reports from the warehouse (seed 003's reports).

For every strategy's current version and every period kind, the report of the period holding
the newest index session (period to date) and of the period before it (complete), stored as
rows (replacing those periods' rows: re-running changes nothing) and rendered to Markdown, an
HTML page and a PNG chart under ``<data_dir>/reports/<strategy>/``.
"""

from __future__ import annotations

import datetime as dt
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
from autoindex_pipeline.warehouse.reports import read_allocation_targets, read_index_frame, replace_report_rows

if TYPE_CHECKING:
    import sqlalchemy as sa

PERIODS = ("daily", "weekly", "monthly")


@dataclass
class RenderedReport:
    report: PerformanceReport
    markdown: str
    html_path: Path
    png_path: Path


def _report_dates(last: pd.Timestamp, period: str) -> list[pd.Timestamp]:
    """The newest session's period and the one before it."""
    start, _, _ = period_bounds(last, period)
    return [pd.Timestamp(start) - pd.Timedelta(days=1), last]


def _render(report: PerformanceReport, index: pd.DataFrame, bench: pd.DataFrame | None, folder: Path,
            benchmark_label: str) -> RenderedReport:
    """The report's chart (since inception, up to the end of its period), page and Markdown."""
    stem = f"{report.period}_{report.label}"
    shown = index["date"] <= pd.Timestamp(report.period_end)
    png = render_chart_png(
        index[shown], None if bench is None else bench[shown], folder / f"{stem}.png",
        title=f"{report.strategy}: {report.label} (since inception)",
        index_label=report.strategy, benchmark_label=benchmark_label,
    )
    html_path = folder / f"{stem}.html"
    html_path.write_text(render_html(report, png, embed=True))
    return RenderedReport(report, render_markdown(report), html_path, png)


def _strategy_reports(engine: sa.Engine, config: AutoIndexConfig, name: str, out_dir: Path) -> list[RenderedReport]:
    strat = config.strategies[name]
    index = read_index_frame(engine, name, strat.version)
    if len(index) < 2:
        return []
    allocations = read_allocation_targets(engine, name, strat.version)
    last = index["date"].iloc[-1]
    first_needed = min(pd.Timestamp(period_bounds(d, "monthly")[0]) for d in _report_dates(last, "monthly"))
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
            out.append(_render(report, index, bench, folder, config.universe.benchmark))
    return out


def build_reports(engine: sa.Engine, config: AutoIndexConfig, out_dir: Path) -> list[RenderedReport]:
    """Every strategy's reports (see the module doc), rendered under ``out_dir/<strategy>/``."""
    return [item for name in config.strategies for item in _strategy_reports(engine, config, name, out_dir)]


def store_reports(engine: sa.Engine, config: AutoIndexConfig, rendered: list[RenderedReport]) -> int:
    """Replace the stored rows of every (strategy, version, period, label) just rendered, in one
    transaction."""
    now = dt.datetime.now(dt.UTC)
    figures, contributors, changes = [], [], []
    for item in rendered:
        r = item.report
        version = config.strategies[r.strategy].version
        extra = {"version": version, "period_end": r.period_end, "computed_at": now}
        figures += [{**row, **extra} for row in r.rows()]
        contributors += [{**row, **extra} for row in r.contributor_rows()]
        changes += [{**row, **extra} for row in r.allocation_change_rows()]
    periods = {(r.report.strategy, config.strategies[r.report.strategy].version, r.report.period, r.report.label) for r in rendered}
    replace_report_rows(engine, sorted(periods), {"figures": figures, "contributors": contributors, "allocation_changes": changes})
    return len(figures)

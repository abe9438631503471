"""The checks on the risk metrics and the performance reports, on what the warehouse holds for
every strategy's current version (the figures behind them: domain/quality/results.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.warehouse.schema import RISK_METRIC_COLUMNS
from autoindex_pipeline.warehouse.strategy import read_current_rows

if TYPE_CHECKING:
    import sqlalchemy as sa

    from autoindex_pipeline.services.reports import RenderedReport

RISK_CHECKS = ("risk_metrics_warmup", "risk_metrics_finite")
REPORT_CHECKS = ("performance_reports_current", "performance_figures_finite")
REPORT_VALUES = ("index_value", "benchmark_value", "active_value")


def _versions(config: AutoIndexConfig) -> dict[str, str]:
    return {name: strat.version for name, strat in config.strategies.items()}


def evaluate_risk_metrics(engine: sa.Engine, config: AutoIndexConfig) -> dict[str, quality.CheckOutcome]:
    """Both risk-metric checks on every stored row of the current versions; {} with no rows."""
    metrics = read_current_rows(engine, "risk_metrics", _versions(config))
    if metrics.empty:
        return {}
    return {
        "risk_metrics_warmup": quality.check_risk_metrics_warmup(metrics, RISK_METRIC_COLUMNS),
        "risk_metrics_finite": quality.check_risk_metrics_finite(metrics, RISK_METRIC_COLUMNS),
    }


def evaluate_reports(engine: sa.Engine, config: AutoIndexConfig, rendered: list[RenderedReport],
                     periods: tuple[str, ...]) -> dict[str, quality.CheckOutcome]:
    """The report checks on what this run rendered, against each strategy's newest index session."""
    index = read_current_rows(engine, "index_values", _versions(config))
    # A strategy with fewer than two index rows has nothing to report yet (services/reports.py).
    counts = index.groupby("strategy")["date"].agg(["max", "size"]) if len(index) else pd.DataFrame(columns=["max", "size"])
    newest = {s: pd.Timestamp(row["max"]) for s, row in counts.iterrows() if row["size"] >= 2}
    reports = pd.DataFrame([{"strategy": r.report.strategy, "period": r.report.period, "as_of": r.report.as_of} for r in rendered],
                           columns=["strategy", "period", "as_of"])
    figures = pd.DataFrame([{**row, "strategy": r.report.strategy, "as_of": r.report.as_of, "period": r.report.period}
                            for r in rendered for row in r.report.rows()])
    if figures.empty:
        figures = pd.DataFrame(columns=["strategy", "as_of", "period", "metric", *REPORT_VALUES])
    return {
        "performance_reports_current": quality.check_reports_current(reports, newest, periods),
        "performance_figures_finite": quality.check_report_figures_finite(figures, REPORT_VALUES),
    }

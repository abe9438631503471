"""Checks on the computed results after the index: the stored risk metrics (methodology section 8:
no figure from fewer than ``MIN_RETURNS`` returns, never an infinite or NaN figure) and the
performance reports (every strategy reported up to its newest session, every figure finite).

Offending rows name the strategy in ``symbol`` (as the index checks do) and say which metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.metrics import MIN_RETURNS
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _empty_offending, _offending, _outcome
from autoindex_pipeline.domain.quality.rules import severity_of

HEADLINE_METRICS = ("total_return", "volatility", "max_drawdown")
"""Defined from ``MIN_RETURNS`` returns on whatever the returns are (a flat series has them all)."""


def _metric_columns(frame: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    return [c for c in frame.columns if c in metrics or (c.startswith("price_") and c[len("price_"):] in metrics)]


def _long(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """(strategy, date, n_returns, metric, value) rows of the metric columns."""
    return frame.melt(id_vars=["strategy", "date", "n_returns"], value_vars=list(columns), var_name="metric", value_name="value")


def check_risk_metrics_warmup(metrics: pd.DataFrame, metric_names: Sequence[str], min_returns: int = MIN_RETURNS) -> CheckOutcome:
    """Below ``min_returns`` returns every metric is NULL (a figure from 12 returns is noise,
    and 0 would read as a measurement). ``metrics``: strategy, date, n_returns and the metric
    columns (the price-return ``price_*`` ones included)."""
    name = "risk_metrics_warmup"
    early = metrics[pd.to_numeric(metrics["n_returns"]) < min_returns]
    cols = _metric_columns(metrics, metric_names)
    long = _long(early, cols)
    bad = long[long["value"].notna()]
    off = _offending(bad["strategy"].astype(str).to_numpy(dtype=object), pd.to_datetime(bad["date"]).to_numpy(),
                     bad["value"].astype(float).to_numpy(),
                     (bad["metric"] + " stored with " + bad["n_returns"].astype(int).astype(str) + f" returns (< {min_returns})").to_numpy(),
                     severity_of(name)) if len(bad) else _empty_offending()
    return _outcome(name, off, severity=severity_of(name), observed=float(len(bad)), threshold=0.0,
                    description=f"every metric NULL below {min_returns} returns", evaluated=int(len(long)), scope="table")


def check_risk_metrics_finite(metrics: pd.DataFrame, metric_names: Sequence[str], min_returns: int = MIN_RETURNS) -> CheckOutcome:
    """Every stored metric is finite (no inf or NaN written as a number), and from
    ``min_returns`` returns on the headline figures (total return, volatility, max drawdown)
    are there. Ratios may stay NULL where they are undefined (a Sharpe without volatility)."""
    name = "risk_metrics_finite"
    cols = _metric_columns(metrics, metric_names)
    long = _long(metrics, cols)
    values = pd.to_numeric(long["value"], errors="coerce").astype(float)
    # A NaN read back from the database is NULL; an infinite value is a stored number.
    infinite = np.isinf(values.to_numpy())
    headline = long["metric"].isin(HEADLINE_METRICS) & (pd.to_numeric(long["n_returns"]) >= min_returns)
    missing = headline.to_numpy() & values.isna().to_numpy()
    bad_mask = infinite | missing
    bad = long[bad_mask]
    reason = np.where(infinite[bad_mask], bad["metric"] + " is not finite",
                      bad["metric"] + " missing with " + bad["n_returns"].astype(int).astype(str) + " returns")
    off = _offending(bad["strategy"].astype(str).to_numpy(dtype=object), pd.to_datetime(bad["date"]).to_numpy(),
                     values[bad_mask].to_numpy(), reason, severity_of(name)) if len(bad) else _empty_offending()
    return _outcome(name, off, severity=severity_of(name), observed=float(len(bad)), threshold=0.0,
                    description=f"every metric finite; {', '.join(HEADLINE_METRICS)} present from {min_returns} returns",
                    evaluated=int(len(long)), scope="table")


def check_reports_current(reports: pd.DataFrame, newest: Mapping[str, pd.Timestamp], periods: Sequence[str]) -> CheckOutcome:
    """Each strategy with index rows has a report of every period kind whose ``as_of`` is its
    newest index session. ``reports``: strategy, period, as_of (one row per rendered report);
    ``newest``: strategy -> newest index session."""
    name = "performance_reports_current"
    have = {(r.strategy, r.period): pd.Timestamp(r.as_of) for r in reports.itertuples(index=False)}
    rows = []
    for strategy, last in newest.items():
        for period in periods:
            got = max((d for (s, p), d in have.items() if s == strategy and p == period), default=None)
            if got is None or got < pd.Timestamp(last):
                rows.append((strategy, pd.Timestamp(last), np.nan if got is None else float((pd.Timestamp(last) - got).days),
                             f"no {period} report" + ("" if got is None else f" beyond {got.date()}") + f" (index to {pd.Timestamp(last).date()})"))
    off = _offending([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
                     severity_of(name)) if rows else _empty_offending()
    return _outcome(name, off, severity=severity_of(name), observed=float(len(rows)), threshold=0.0,
                    description=f"a {', '.join(periods)} report of every strategy up to its newest session",
                    evaluated=len(newest) * len(periods), scope="table")


def check_report_figures_finite(figures: pd.DataFrame, value_columns: Sequence[str]) -> CheckOutcome:
    """No report figure is infinite. ``figures``: strategy, as_of, period, metric and the value
    columns (index, benchmark, active)."""
    name = "performance_figures_finite"
    long = figures.melt(id_vars=["strategy", "as_of", "period", "metric"], value_vars=list(value_columns),
                        var_name="column", value_name="value")
    values = pd.to_numeric(long["value"], errors="coerce").astype(float)
    mask = np.isinf(values.to_numpy())
    bad = long[mask]
    off = _offending(bad["strategy"].astype(str).to_numpy(dtype=object), pd.to_datetime(bad["as_of"]).to_numpy(),
                     values[mask].to_numpy(), (bad["period"] + " " + bad["metric"] + " " + bad["column"] + " is not finite").to_numpy(),
                     severity_of(name)) if len(bad) else _empty_offending()
    return _outcome(name, off, severity=severity_of(name), observed=float(len(bad)), threshold=0.0,
                    description="every report figure finite", evaluated=int(values.notna().sum()), scope="table")

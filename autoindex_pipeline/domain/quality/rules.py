"""The one registry of data-quality checks: name, asset, severity, blocking flag, description.

This is the only place a check's name and severity are written. The checks read their severity
from here (so every offending row carries it), Dagster builds its asset check specs from here,
and the quality report scores what this lists.

Why severity and blocking always agree: Dagster's automation reads ANY failed blocking check as
"not passed" whatever its severity, while inside a run only ERROR stops downstream steps. A
blocking check that could fail at WARN would stall automation on data the run itself accepts, so a
check is either blocking and fails at ERROR, or not blocking and warns.
"""

from __future__ import annotations

from dataclasses import dataclass

ERROR = "ERROR"
WARN = "WARN"
SEVERITIES = (ERROR, WARN)


@dataclass(frozen=True)
class CheckRule:
    name: str
    asset: str
    severity: str
    description: str
    unit: str = "row"
    """What one evaluated unit of the pass rate is. ``row`` (a price row) marks the checks whose
    pass rate :func:`~autoindex_pipeline.domain.quality.scores.quality_scores` scales by
    completeness, because a session without a row cannot fail them."""
    observed: str = "count"
    """How ``observed`` is read: ``count`` (offending rows), ``max_abs`` (largest |value|), or
    ``figure`` (a ratio or age the check computes). Overrides recompute the first two."""
    engine: str = "pandas"
    """``great_expectations`` for the row rules validated by GX."""
    pages: bool = False
    """A WARN check whose failure is sent as a warning alert (a blocking check's always is, as
    critical). The other warnings inform in the UI and the quality report; what in them needs a
    person has an alert rule of its own (stale prices, a held index, a daily drop)."""

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR


GX = "great_expectations"

RULES: tuple[CheckRule, ...] = (
    # prices
    CheckRule("ohlc_validity", "prices", ERROR, "low <= min(open, close) <= max(open, close) <= high (Great Expectations)", engine=GX),
    CheckRule("positive_prices_and_volume", "prices", ERROR, "close present and finite, prices > 0, volume >= 0 (Great Expectations)", engine=GX),
    CheckRule("duplicates", "prices", ERROR, "one row per (symbol, date) (Great Expectations)", engine=GX),
    CheckRule("return_cap", "prices", ERROR, "|daily return| <= max_daily_return: beyond it the clip would distort the index", observed="max_abs"),
    CheckRule("robust_z", "prices", WARN, "robust z of the daily return over the past 60 sessions <= 5 (fat tails: about one a year per symbol)"),
    CheckRule("probable_splits", "prices", ERROR,
              "overnight moves near 2:1, 3:1, 3:2, 1:2 ... that no recorded split explains: wrong data (the index would book them)"),
    CheckRule("corporate_action_moves", "prices", WARN,
              "recorded splits the closes do not show (ratio off by more than 10%), dividends not below the previous close",
              unit="corporate action"),
    CheckRule("completeness", "prices", WARN, "valid closes >= 98% of the sessions of each symbol's active range, per month",
              unit="expected session", observed="figure"),
    CheckRule("staleness", "prices", WARN, "newest close at most prices.stale_after_sessions sessions old", unit="symbol", observed="figure"),
    CheckRule("reconciliation", "prices", ERROR, "a sample of closes within 0.2% of a second source", unit="sampled close", observed="figure"),
    # quality report
    CheckRule("portfolio_quality_score", "quality_report", ERROR,
              "Mean of the symbols' quality scores >= quality.min_portfolio_score (0.9): the gate before allocations.",
              unit="portfolio", observed="figure"),
    CheckRule("validation_rate", "quality_report", WARN,
              "rows passing every blocking rule / rows checked >= quality.min_validation_rate (95%) on every session of the "
              "report window (open refusals count as failing until settled)", unit="session", observed="figure",
              pages=True),
    # allocations and index
    CheckRule("weights_sum", "allocations", ERROR, "weights of each date sum to 1 (1e-9)", unit="(strategy, date)", observed="figure"),
    CheckRule("no_negative_weights", "allocations", ERROR, "no weight below 0", unit="allocation row", observed="figure"),
    CheckRule("weight_cap", "allocations", ERROR, "no weight above max_asset_weight", unit="allocation row", observed="figure"),
    CheckRule("benchmark_excluded", "allocations", ERROR, "the benchmark is never a constituent", unit="allocation row"),
    CheckRule("index_recomputation", "index_values", ERROR, "stored levels = a recomputation from stored allocations and prices (1e-9)",
              unit="index row", observed="figure"),
    CheckRule("index_session_gaps", "index_values", ERROR, "one row per session", unit="expected session"),
    CheckRule("daily_moves", "index_values", WARN, "daily returns beyond daily_drop_threshold reported (the alert sensor acts)",
              unit="index row", observed="figure"),
    # risk metrics and performance reports (domain/quality/results.py)
    CheckRule("risk_metrics_warmup", "risk_metrics", ERROR, "every metric NULL below 20 returns (no figure from too few returns, never 0)",
              unit="metric value"),
    CheckRule("risk_metrics_finite", "risk_metrics", ERROR,
              "every metric finite; total return, volatility and max drawdown present from 20 returns on", unit="metric value"),
    CheckRule("performance_reports_current", "performance_reports", WARN,
              "a daily, weekly and monthly report of every strategy up to its newest index session", unit="(strategy, period)"),
    CheckRule("performance_figures_finite", "performance_reports", WARN, "every report figure finite", unit="report figure"),
    # news
    CheckRule("news_duplicates", "news_articles", ERROR, "each article stored once (id, provider id, normalised URL)", unit="article"),
    CheckRule("news_missing_symbols", "news_sentiment", WARN, "every scored (article, symbol) names a universe symbol", unit="article / entity"),
    CheckRule("news_stale", "news_articles", WARN,
              "newest article at most news.stale_after_hours old on a trading day (today's partition)", unit="the feed", observed="figure"),
)

RULE_BY_NAME: dict[str, CheckRule] = {r.name: r for r in RULES}


def rule(name: str) -> CheckRule:
    return RULE_BY_NAME[name]


def severity_of(name: str) -> str:
    return RULE_BY_NAME[name].severity


def rules_for(*assets: str) -> tuple[CheckRule, ...]:
    return tuple(r for r in RULES if r.asset in assets)


PRICE_RULES = rules_for("prices")
GX_CHECKS: tuple[str, ...] = tuple(r.name for r in PRICE_RULES if r.engine == GX)
ROW_CHECKS: tuple[str, ...] = tuple(r.name for r in PRICE_RULES if r.unit == "row")
"""Checks that look at the rows a symbol has; the quality score measures them over the sessions
it should have."""

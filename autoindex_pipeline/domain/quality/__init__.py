"""Data-quality checks (methodology section 10). Pure and vectorised; no Dagster, no I/O.

One concern per module:

* :mod:`.rules` - THE registry: every check's name, asset, severity, blocking flag, description;
* :mod:`.outcome` - :class:`CheckOutcome`, its helpers, and overrides;
* :mod:`.prices` - completeness, staleness, reconciliation (and the look-back they need);
* :mod:`.returns` - return cap (blocking), robust z and probable splits (warnings);
* :mod:`.portfolio` - allocation and index checks; :mod:`.news` - news checks;
* :mod:`.scores` - scores, grid, trend, the portfolio-score gate.

The three row rules (OHLC validity, positive prices and volume, duplicates) are Great
Expectations expectations: ``autoindex_pipeline.services.gx``.
"""

from autoindex_pipeline.domain.quality.frames import listing_frame
from autoindex_pipeline.domain.quality.news import check_news_duplicates, check_news_missing_symbols, check_news_stale
from autoindex_pipeline.domain.quality.outcome import (
    OFFENDING_COLUMNS,
    SAMPLE_ROWS,
    CheckOutcome,
    _empty_offending,
    _json_float,
    _json_value,
    _offending,
    _outcome,
    _pass_rates,
    _records,
    apply_overrides,
)
from autoindex_pipeline.domain.quality.portfolio import (
    check_benchmark_excluded,
    check_daily_moves,
    check_index_recomputation,
    check_index_session_gaps,
    check_no_negative_weights,
    check_weight_cap,
    check_weights_sum,
)
from autoindex_pipeline.domain.quality.prices import check_completeness, check_reconciliation, check_staleness
from autoindex_pipeline.domain.quality.results import (
    check_report_figures_finite,
    check_reports_current,
    check_risk_metrics_finite,
    check_risk_metrics_warmup,
)
from autoindex_pipeline.domain.quality.returns import (
    SPLIT_FACTORS,
    check_corporate_action_moves,
    check_probable_splits,
    check_return_cap,
    check_returns,
    check_robust_z,
    lookback_sessions,
    past_robust_z,
)
from autoindex_pipeline.domain.quality.rules import (
    ERROR,
    GX_CHECKS,
    PRICE_RULES,
    ROW_CHECKS,
    RULES,
    SEVERITIES,
    WARN,
    CheckRule,
    rule,
    rules_for,
    severity_of,
)
from autoindex_pipeline.domain.quality.scores import (
    CELL_ERROR,
    CELL_OK,
    CELL_WARN,
    GREEN,
    GREEN_ABOVE,
    GREY,
    MIN_PORTFOLIO_SCORE,
    RED,
    RED_BELOW,
    YELLOW,
    check_portfolio_score,
    compact_grid,
    daily_quality,
    portfolio_score,
    quality_scores,
    quality_trend,
    score_colour,
)

__all__ = [
    "CELL_ERROR",
    "CELL_OK",
    "CELL_WARN",
    "CheckOutcome",
    "CheckRule",
    "ERROR",
    "GREEN",
    "GREEN_ABOVE",
    "GREY",
    "GX_CHECKS",
    "MIN_PORTFOLIO_SCORE",
    "OFFENDING_COLUMNS",
    "PRICE_RULES",
    "RED",
    "RED_BELOW",
    "ROW_CHECKS",
    "RULES",
    "SAMPLE_ROWS",
    "SEVERITIES",
    "SPLIT_FACTORS",
    "WARN",
    "YELLOW",
    "_empty_offending",
    "_json_float",
    "_json_value",
    "_offending",
    "_outcome",
    "_pass_rates",
    "_records",
    "apply_overrides",
    "check_benchmark_excluded",
    "check_completeness",
    "check_daily_moves",
    "check_index_recomputation",
    "check_index_session_gaps",
    "check_news_duplicates",
    "check_news_missing_symbols",
    "check_news_stale",
    "check_no_negative_weights",
    "check_portfolio_score",
    "check_corporate_action_moves",
    "check_probable_splits",
    "check_reconciliation",
    "check_return_cap",
    "check_returns",
    "check_robust_z",
    "check_staleness",
    "check_weight_cap",
    "check_weights_sum",
    "compact_grid",
    "daily_quality",
    "listing_frame",
    "lookback_sessions",
    "past_robust_z",
    "portfolio_score",
    "quality_scores",
    "quality_trend",
    "rule",
    "rules_for",
    "check_report_figures_finite",
    "check_reports_current",
    "check_risk_metrics_finite",
    "check_risk_metrics_warmup",
    "score_colour",
    "severity_of",
]

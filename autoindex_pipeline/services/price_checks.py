"""Price checks over the sessions a run just wrote (the glue between the warehouse and
``domain.quality`` / ``quality.gx``). No Dagster here.

One evaluation per run, whatever its length: a 5-year backfill is one GX batch and one pass of
the pandas checks, not 1,260 validations. History before the window is read for the checks that
look back (outliers: the previous close and 60 sessions of past returns; staleness).

Severity policy (what blocks the index):

* ERROR, blocking: OHLC validity, positive prices / non-negative volume, duplicate rows,
  returns beyond ``max_daily_return``, cross-source mismatch. Each is data the index must not
  use until someone looks: re-fetch it (targeted refresh) or record an override.
* WARN, reported: completeness (a gap is handled by the methodology's forward-fill limit and
  shows in the quality score), staleness (also an alert sensor), probable splits (information),
  robust z-scores above 5 without a cap breach (fat tails make ~1 a year per symbol).

Overrides (table ``price_overrides``, recorded with who/when/why) take named rows out of the
checks: ``accept`` says the print is genuine, ``exclude`` says it is wrong and the index treats
that close as missing. Raw rows are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import previous_session, sessions_between
from autoindex_pipeline.warehouse.overrides import read_overrides
from autoindex_pipeline.warehouse.read import read_prices


@dataclass(frozen=True)
class PriceCheck:
    name: str
    blocking: bool
    description: str


PRICE_CHECKS: tuple[PriceCheck, ...] = (
    PriceCheck("ohlc_validity", True, "low <= min(open, close) <= max(open, close) <= high (Great Expectations)"),
    PriceCheck("positive_prices_and_volume", True, "prices present and > 0, volume >= 0 (Great Expectations)"),
    PriceCheck("duplicates", True, "one row per (symbol, date) (Great Expectations)"),
    PriceCheck("outliers", True, "|return| <= max_daily_return (ERROR); robust z over the past 60 sessions <= 5 (WARN)"),
    PriceCheck("probable_splits", False, "overnight moves near 2:1, 3:1, 3:2, 1:2 ... reported as probable splits"),
    PriceCheck("completeness", False, "valid closes >= 98% of the sessions of each symbol's active range, per month"),
    PriceCheck("staleness", False, "newest close at most prices.stale_after_sessions sessions old"),
)
RECONCILIATION = PriceCheck("reconciliation", True, "a sample of closes within 0.2% of a second source")
WARN_ONLY = {"completeness", "staleness"}
HISTORY_SESSIONS = 70  # 60 past returns for the robust z, plus the forward-fill reach


def apply_overrides(outcome: quality.CheckOutcome, overrides: pd.DataFrame) -> quality.CheckOutcome:
    """Drop overridden (symbol, date) rows from a row-scoped outcome; it passes when none is left."""
    if outcome.offending.empty or overrides.empty or outcome.scope != "row":
        return outcome
    keys = pd.MultiIndex.from_frame(overrides.loc[:, ["symbol", "date"]])
    off = outcome.offending
    hit = pd.MultiIndex.from_arrays([off["symbol"].astype(str), pd.to_datetime(off["date"])]).isin(keys)
    if not hit.any():
        return outcome
    left = off.loc[~hit].reset_index(drop=True)
    severity = quality.ERROR if (left.get("severity", pd.Series(dtype=str)) == quality.ERROR).any() else (
        quality.WARN if len(left) else outcome.severity)
    return replace(
        outcome,
        offending=left,
        passed=left.empty,
        severity=severity,
        details={**outcome.details, "overridden_rows": int(hit.sum())},
    )


def evaluate_prices(
    engine: sa.Engine,
    config: AutoIndexConfig,
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    secondary: pd.DataFrame | None = None,
) -> tuple[list[quality.CheckOutcome], dict]:
    """Outcomes of every price check for the rows a run wrote (``frame``, sessions start..end),
    and the Great Expectations evidence (expectation, observed value, offending rows)."""
    from autoindex_pipeline.services.gx import validate_prices

    calendar = config.prices.calendar
    sessions = sessions_between(start, end, calendar)
    before = sessions_between(pd.Timestamp(start) - pd.Timedelta(days=HISTORY_SESSIONS * 2), previous_session(start, calendar), calendar)
    history = read_prices(engine, symbols=config.symbols, start=before[-HISTORY_SESSIONS], end=before[-1]) if len(before) else None
    # Outliers use the methodology's return cap of the default strategy (or the first one).
    strat = config.strategies.get("default") or next(iter(config.strategies.values()))
    window = frame.loc[:, ["symbol", "date", "open", "high", "low", "close", "volume"]]
    pandas_outcomes = quality.run_price_checks(
        window,
        sessions,
        history=history,
        as_of=end,
        max_daily_return=strat.max_daily_return,
        max_forward_fill_days=strat.max_forward_fill_days,
        stale_after_sessions=config.prices.stale_after_sessions,
        secondary=secondary,
        reconciliation_tolerance=0.002,
    )
    # Staleness looks at the newest close per symbol: with history it also sees the symbols
    # that have no row in this window at all.
    if history is not None and len(history):
        combined = pd.concat([history.loc[:, window.columns], window], ignore_index=True)
        pandas_outcomes = [
            quality.check_staleness(combined, end, config.prices.stale_after_sessions) if o.name == "staleness" else o
            for o in pandas_outcomes
        ]
    gx = validate_prices(window)
    by_name = {o.name: o for o in pandas_outcomes}
    for o in gx.outcomes():  # the table-level verdicts come from Great Expectations
        by_name[o.name] = o
    overrides = read_overrides(engine)
    outcomes = [apply_overrides(o, overrides) for o in by_name.values()]
    # The severity policy above: gaps and staleness are reported, not blocking.
    outcomes = [replace(o, severity=quality.WARN) if o.name in WARN_ONLY and not o.passed else o for o in outcomes]
    return outcomes, gx.to_metadata()


def reconciliation_source(config: AutoIndexConfig, providers, symbols, start, end) -> pd.DataFrame | None:  # noqa: ANN001
    """Closes of the same symbols and sessions from the configured second source
    (``quality.reconciliation_provider``), or None when it delivered nothing."""
    second = providers.build(config.quality.reconciliation_provider)
    result = second.fetch_prices(symbols, pd.Timestamp(start).date(), pd.Timestamp(end).date())
    return result.frame if len(result.frame) else None

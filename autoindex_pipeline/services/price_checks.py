"""Every price check over a window of sessions: the one orchestration, used by the prices asset
(the sessions a run just wrote) and by the quality report (its last ``report_sessions``). No
Dagster here.

One evaluation per call, whatever the window's length: a 5-year backfill is one GX batch and one
pass of the pandas checks, not 1,260 validations. History before the window is read for the
checks that look back, as many sessions as their parameters need
(:func:`~autoindex_pipeline.domain.quality.lookback_sessions`).

Severities and blocking are the registry's (``domain/quality/rules.py``), never adjusted here.

Overrides (table ``price_overrides``, recorded with who/when/why) take named rows out of the
checks: ``accept`` says the print is genuine, ``exclude`` says it is wrong and the index treats
that close as missing. Raw rows are never changed.

Corporate actions (table ``corporate_actions``) explain split-like moves: a move a recorded split
explains passes ``probable_splits``, one no split explains is blocking (wrong data until the
event is recorded), and ``corporate_action_moves`` warns about events the prices do not show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, previous_session, sessions_between
from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions
from autoindex_pipeline.warehouse.overrides import read_overrides
from autoindex_pipeline.warehouse.read import read_prices

if TYPE_CHECKING:  # the engine is only passed through to the warehouse
    import sqlalchemy as sa

PRICE_COLUMNS = ["symbol", "date", "open", "high", "low", "close", "volume"]


@dataclass(frozen=True)
class PriceCheckSettings:
    """The parameters of the price checks (defaults = the methodology's)."""

    min_ratio: float = 0.98
    max_daily_return: float = 0.5
    z_threshold: float = 5.0
    window: int = 60
    max_forward_fill_days: int = 2
    stale_after_sessions: int = 1
    reconciliation_sample: int | None = 100
    reconciliation_tolerance: float = 0.002
    seed: int = 0
    calendar: str = DEFAULT_CALENDAR

    @property
    def history_sessions(self) -> int:
        return quality.lookback_sessions(self.window, self.max_forward_fill_days)

    @classmethod
    def from_config(cls, config: AutoIndexConfig) -> PriceCheckSettings:
        # The return cap is the methodology's, of the default strategy (or the first one).
        strat = config.strategies.get("default") or next(iter(config.strategies.values()))
        return cls(
            max_daily_return=strat.max_daily_return,
            max_forward_fill_days=strat.max_forward_fill_days,
            stale_after_sessions=config.prices.stale_after_sessions,
            reconciliation_sample=config.quality.reconciliation_sample,
            calendar=config.prices.calendar,
        )


def _evaluate(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    settings: PriceCheckSettings,
    *,
    history: pd.DataFrame | None,
    as_of: Any,
    symbols: list[str] | None,
    listing: pd.DataFrame | None,
    secondary: pd.DataFrame | None,
    overrides: pd.DataFrame | None,
    events: pd.DataFrame | None = None,
) -> tuple[list[quality.CheckOutcome], dict]:
    from autoindex_pipeline.services.gx import validate_prices

    s = settings
    window = prices.loc[:, PRICE_COLUMNS]
    gx = validate_prices(window)
    return_cap, robust_z = quality.check_returns(
        window, history, s.max_daily_return, s.z_threshold, s.window, max_forward_fill_days=s.max_forward_fill_days,
    )
    outcomes = [
        quality.check_completeness(window, sessions, s.min_ratio, listing, symbols=symbols),
        *gx.outcomes(),
        return_cap,
        robust_z,
        quality.check_probable_splits(window, history, events=events),
        quality.check_corporate_action_moves(window, history, events),
    ]
    if as_of is not None:
        # With history staleness also sees the symbols that have no row in this window at all.
        seen = window if history is None or history.empty else pd.concat([history.loc[:, PRICE_COLUMNS], window], ignore_index=True)
        outcomes.append(quality.check_staleness(seen, as_of, s.stale_after_sessions, symbols=symbols, listing=listing, calendar=s.calendar))
    if secondary is not None:
        outcomes.append(quality.check_reconciliation(window, secondary, s.reconciliation_sample, s.reconciliation_tolerance, s.seed))
    order = {r.name: i for i, r in enumerate(quality.PRICE_RULES)}
    outcomes.sort(key=lambda o: order.get(o.name, len(order)))
    if overrides is not None and len(overrides):
        outcomes = [quality.apply_overrides(o, overrides) for o in outcomes]
    return outcomes, gx.to_metadata()


def run_price_checks(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    *,
    history: pd.DataFrame | None = None,
    as_of: Any = None,
    symbols: list[str] | None = None,
    listing: pd.DataFrame | None = None,
    secondary: pd.DataFrame | None = None,
    overrides: pd.DataFrame | None = None,
    settings: PriceCheckSettings = PriceCheckSettings(),
    events: pd.DataFrame | None = None,
) -> list[quality.CheckOutcome]:
    """Every price check over one window of frames, in the registry's order. Staleness runs when
    ``as_of`` is given, reconciliation when ``secondary`` is; ``overrides`` (symbol, date) take
    rows out of the row-scoped checks; ``events`` are the recorded corporate actions."""
    outcomes, _ = _evaluate(prices, sessions, settings, history=history, as_of=as_of, symbols=symbols, listing=listing,
                            secondary=secondary, overrides=overrides, events=events)
    return outcomes


def evaluate_window(
    engine: sa.Engine,
    config: AutoIndexConfig,
    start: pd.Timestamp,
    end: pd.Timestamp,
    frame: pd.DataFrame | None = None,
    secondary: pd.DataFrame | None = None,
) -> tuple[list[quality.CheckOutcome], dict]:
    """Every price check over sessions start..end of the warehouse (or of ``frame``, the rows a
    run just wrote), with the history the look-back checks need and the recorded overrides.
    Returns the outcomes and the Great Expectations evidence (expectation, observed value,
    offending rows)."""
    settings = PriceCheckSettings.from_config(config)
    calendar = settings.calendar
    sessions = sessions_between(start, end, calendar)
    if frame is None:
        frame = read_prices(engine, symbols=config.symbols, start=pd.Timestamp(start).date(), end=pd.Timestamp(end).date())
    need = settings.history_sessions
    # Twice the sessions in calendar days (plus a fortnight) always holds `need` sessions.
    before = sessions_between(pd.Timestamp(start) - pd.Timedelta(days=need * 2 + 14), previous_session(start, calendar), calendar)
    before = before[-need:]
    history = read_prices(engine, symbols=config.symbols, start=before[0], end=before[-1]) if len(before) else None
    return _evaluate(frame, sessions, settings, history=history, as_of=end, symbols=None, listing=None,
                     secondary=secondary, overrides=read_overrides(engine),
                     events=read_corporate_actions(engine, symbols=config.symbols))


def evaluate_prices(
    engine: sa.Engine,
    config: AutoIndexConfig,
    frame: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    secondary: pd.DataFrame | None = None,
) -> tuple[list[quality.CheckOutcome], dict]:
    """The checks of a prices run: :func:`evaluate_window` over the rows it wrote."""
    return evaluate_window(engine, config, start, end, frame=frame, secondary=secondary)


def reconciliation_source(config: AutoIndexConfig, providers, symbols, start, end) -> pd.DataFrame | None:
    """Closes of the same symbols and sessions from the configured second source
    (``quality.reconciliation_provider``), or None when it delivered nothing."""
    second = providers.build(config.quality.reconciliation_provider)
    result = second.fetch_prices(symbols, pd.Timestamp(start).date(), pd.Timestamp(end).date())
    return result.frame if len(result.frame) else None

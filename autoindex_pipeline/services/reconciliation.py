"""The monthly cross-source spot check: a sample of ``quality.reconciliation_sample`` stored
closes of one calendar month compared with the second source (``quality.reconciliation_provider``)
within 0.2 %. No Dagster here.

Only the sampled symbols are requested from the second source (a paid API is asked for what the
sample needs, not the universe): the sample is the domain's own (the keys with the smallest
hash, :func:`~autoindex_pipeline.domain.quality.check_reconciliation`), read from a dry run of
the check on the stored closes; restricting the closes to those symbols keeps the same keys,
because every key left out had a larger hash than every key chosen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.services.price_checks import PriceCheckSettings, reconciliation_source
from autoindex_pipeline.warehouse.overrides import read_overrides
from autoindex_pipeline.warehouse.read import read_prices

if TYPE_CHECKING:
    import sqlalchemy as sa


class ReconciliationError(RuntimeError):
    """The spot check cannot run (no second source configured, nothing stored); the message says
    what to do."""


@dataclass(frozen=True)
class Reconciliation:
    start: dt.date
    end: dt.date
    sample_size: int
    symbols: list[str]
    outcome: quality.CheckOutcome


def previous_month(today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of the calendar month before ``today``'s."""
    first_this = today.replace(day=1)
    last = first_this - dt.timedelta(days=1)
    return last.replace(day=1), last


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` -> its first and last day."""
    first = dt.datetime.strptime(month, "%Y-%m").date()
    nxt = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, nxt - dt.timedelta(days=1)


def reconcile_month(engine: sa.Engine, config: AutoIndexConfig, providers, start: dt.date, end: dt.date) -> Reconciliation:
    """Compare a sample of the stored closes of ``start..end`` with the second source."""
    if config.quality.reconciliation_provider is None:
        raise ReconciliationError("no second source: set quality.reconciliation_provider (sample, files or twelvedata)")
    sessions = sessions_between(start, end, config.prices.calendar)
    if not len(sessions):
        raise ReconciliationError(f"no exchange session in {start}..{end}")
    settings = PriceCheckSettings.from_config(config)
    stored = read_prices(engine, symbols=config.symbols, start=sessions[0], end=sessions[-1])
    if stored.empty:
        raise ReconciliationError(f"no stored prices in {start}..{end}: nothing to reconcile")
    sample, tol, seed = settings.reconciliation_sample, settings.reconciliation_tolerance, settings.seed
    dry = quality.check_reconciliation(stored, stored, sample, tol, seed)
    symbols = sorted(str(s) for s in dry.per_symbol_pass_rate.index)
    primary = stored[stored["symbol"].isin(symbols)]
    secondary = reconciliation_source(config, providers, symbols, sessions[0], sessions[-1])
    if secondary is None:
        secondary = primary.iloc[0:0]
    outcome = quality.check_reconciliation(primary, secondary, sample, tol, seed)
    overrides = read_overrides(engine)
    if len(overrides):
        outcome = quality.apply_overrides(outcome, overrides)
    return Reconciliation(start, end, int(sample) if sample is not None else len(stored), symbols, outcome)

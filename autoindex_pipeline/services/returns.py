"""Stored closes -> the methodology's cleaned closes and returns: the ONE way every computation
reads prices (the index, its recomputation check, the performance reports).

Audited ``exclude`` overrides are applied here, so a close an analyst marked wrong is missing
for every reader alike (methodology section 2 then forward-fills it within its limit); the raw
stored rows are never changed.

The stored corporate actions (splits, cash dividends) are applied here too (section 2a), for
every reader alike: ``returns`` is the total return ``r_TR`` (the signals, the headline index,
its check and the reports), ``price_returns`` the price return ``r_PR``, ``screen_closes`` the
cleaned close at the raw scale (the ``min_price_threshold`` screen, market cap). With no event
every frame is exactly what section 2 gives.

``as_of`` (None: now) reads everything as the warehouse knew it at that moment: each close's
newest price revision recorded on or before it (``warehouse/revisions.py``), the events first
seen on or before it, the overrides created on or before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.domain import cleaning
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions
from autoindex_pipeline.warehouse.overrides import read_overrides
from autoindex_pipeline.warehouse.read import read_closes
from autoindex_pipeline.warehouse.revisions import utc_moment

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class CleanReturns:
    """Sessions x symbols frames on the requested sessions."""

    raw: pd.DataFrame
    """Stored closes as they are (NaN where no row): what the completeness gate reads."""
    closes: pd.DataFrame
    """Cleaned split-adjusted closes ``C`` (invalid -> missing, bounded forward fill)."""
    returns: pd.DataFrame
    """Total returns ``r_TR`` of the cleaned closes, clipped to the strategy's bounds."""
    price_returns: pd.DataFrame
    """Price returns ``r_PR``, clipped (the same frame as ``returns`` without dividends)."""
    screen_closes: pd.DataFrame
    """Cleaned closes at the raw scale ``C / F`` (the price screen and market cap)."""
    factors: pd.DataFrame
    """Cumulative split factors ``F``."""
    events: pd.DataFrame
    """The corporate actions applied (``domain.corporate_actions.EVENT_COLUMNS``)."""


def read_clean_returns(
    engine: sa.Engine,
    symbols: Sequence[str],
    sessions: pd.DatetimeIndex,
    max_forward_fill_days: int,
    min_daily_return: float,
    max_daily_return: float,
    as_of: pd.Timestamp | None = None,
    from_first_close: bool = False,
) -> CleanReturns:
    """Cleaned closes and clipped returns of ``symbols`` on ``sessions`` (consecutive exchange
    sessions), with every ``exclude`` override and every corporate action known at ``as_of``
    applied. Columns are ``symbols`` in that order.

    ``from_first_close``: the frames start at the first session with a stored close of any of
    ``symbols`` (all of ``sessions`` when none has one). The sessions before it are all-NaN rows
    that change no cleaned close or return after it; a full recompute asks for every session
    from the configured start, which can be years before the data (3,000 symbols x 2 y of
    prices on sessions from 2016: eight frames of 60 MiB instead of 12)."""
    events = read_corporate_actions(engine, symbols=list(symbols), as_of=as_of)
    if len(sessions) == 0:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=pd.Index(list(symbols), name="symbol"), dtype=float)
        return CleanReturns(empty, empty.copy(), empty.copy(), empty.copy(), empty.copy(), empty.copy(), events)
    stored = read_closes(engine, symbols=symbols, start=sessions[0], end=sessions[-1], as_of=as_of)
    if from_first_close and len(stored):
        sessions = sessions[sessions >= stored["date"].min()]
    raw = cleaning.to_wide(stored, sessions).reindex(columns=list(symbols))
    adjusted = ca.adjust(
        cleaning.exclude_overridden(raw, overrides_as_of(read_overrides(engine), as_of)), events, max_forward_fill_days,
        min_daily_return, max_daily_return,
    )
    return CleanReturns(raw, adjusted.closes, adjusted.total_returns, adjusted.price_returns, adjusted.screen_closes,
                        adjusted.factors, events)


def overrides_as_of(overrides: pd.DataFrame, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """The overrides an analyst had recorded by ``as_of`` (None: all)."""
    if as_of is None or overrides.empty:
        return overrides
    created = pd.to_datetime(overrides["created_at"], utc=True)
    return overrides[created <= pd.Timestamp(utc_moment(as_of))]

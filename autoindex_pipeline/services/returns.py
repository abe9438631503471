"""Stored closes -> the methodology's cleaned closes and returns: the ONE way every computation
reads prices (the index, its recomputation check, the performance reports).

Audited ``exclude`` overrides are applied here, so a close an analyst marked wrong is missing
for every reader alike (methodology section 2 then forward-fills it within its limit); the raw
stored rows are never changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.domain import cleaning
from autoindex_pipeline.warehouse.overrides import read_overrides
from autoindex_pipeline.warehouse.read import read_closes

if TYPE_CHECKING:
    import sqlalchemy as sa


@dataclass(frozen=True)
class CleanReturns:
    """Sessions x symbols frames on the requested sessions."""

    raw: pd.DataFrame
    """Stored closes as they are (NaN where no row): what the completeness gate reads."""
    closes: pd.DataFrame
    """Cleaned closes (invalid -> missing, bounded forward fill)."""
    returns: pd.DataFrame
    """Daily returns of the cleaned closes, clipped to the strategy's bounds."""


def read_clean_returns(
    engine: sa.Engine,
    symbols: Sequence[str],
    sessions: pd.DatetimeIndex,
    max_forward_fill_days: int,
    min_daily_return: float,
    max_daily_return: float,
) -> CleanReturns:
    """Cleaned closes and clipped returns of ``symbols`` on ``sessions`` (consecutive exchange
    sessions), with every ``exclude`` override applied. Columns are ``symbols`` in that order."""
    if len(sessions) == 0:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], name="date"), columns=pd.Index(list(symbols), name="symbol"), dtype=float)
        return CleanReturns(empty, empty.copy(), empty.copy())
    stored = read_closes(engine, symbols=symbols, start=sessions[0], end=sessions[-1])
    raw = cleaning.to_wide(stored, sessions).reindex(columns=list(symbols))
    clean = cleaning.clean_closes(cleaning.exclude_overridden(raw, read_overrides(engine)), max_forward_fill_days)
    return CleanReturns(raw, clean, cleaning.daily_returns(clean, min_daily_return, max_daily_return))

"""Price cleaning (methodology section 2). Pure functions, applied every time we compute.

Stored raw prices are never modified: these functions take a frame and return a new one.
The wide layout used by the strategy and the index is ``index = calendar sessions`` (tz-naive
midnight timestamps, ascending) and ``columns = symbols``; a session with no stored row for a
symbol is NaN, so "missing" always means "missing on an exchange session", never a holiday.

Splits: the methodology works on raw closes and does NOT adjust for corporate actions. A 2:1
split shows up as a -50% daily return (clipped to ``min_daily_return`` if it goes beyond); the
quality checks (section 10) flag it as a probable split so an operator can correct the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def to_wide(prices_long: pd.DataFrame, sessions: pd.DatetimeIndex, column: str = "close") -> pd.DataFrame:
    """Pivot a long price frame (symbol, date, <column>) to sessions x symbols.

    The result is reindexed to ``sessions``: a session without a row is NaN and rows dated on a
    non-session (a provider glitch) are dropped. Columns are the symbols, sorted. A duplicate
    (symbol, date) is an error (the warehouse key forbids it), not something to average away.
    """
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    if prices_long.empty:
        return pd.DataFrame(index=sessions, columns=pd.Index([], dtype=object, name="symbol"), dtype=float)
    frame = prices_long.loc[:, ["symbol", "date", column]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]")
    if frame.duplicated(["symbol", "date"]).any():
        dupes = frame[frame.duplicated(["symbol", "date"], keep=False)].head(3)
        raise ValueError(f"duplicate (symbol, date) rows in prices, e.g. {dupes[['symbol', 'date']].to_dict('records')}")
    wide = frame.pivot(index="date", columns="symbol", values=column).astype(float)
    wide = wide.reindex(index=sessions).sort_index(axis=1)
    wide.index.name = "date"
    wide.columns.name = "symbol"
    return wide


def clean_closes(closes_wide: pd.DataFrame, max_forward_fill_days: int) -> pd.DataFrame:
    """Cleaned closes: invalid values become missing, then a bounded forward fill.

    1. A close that is NaN, +/-inf or <= 0 is missing (a low positive price is kept: it is real
       data, screened later by ``min_price_threshold``).
    2. A missing close takes the last valid close for at most ``max_forward_fill_days``
       consecutive sessions. In a longer gap the first N sessions are filled and the rest stay
       missing (pandas ``ffill(limit=N)``). A symbol's leading gap (before its first valid close)
       is never filled, and N = 0 means no filling at all.

    Only earlier rows feed a row, so the result at session t depends on data up to t.
    """
    values = closes_wide.astype(float)
    valid = np.isfinite(values) & (values > 0)
    cleaned = values.where(valid)
    if max_forward_fill_days > 0:
        cleaned = cleaned.ffill(limit=max_forward_fill_days)
    return cleaned


def daily_returns(clean_closes: pd.DataFrame, min_daily_return: float, max_daily_return: float) -> pd.DataFrame:
    """Simple daily returns ``P[t] / P[t-1] - 1`` on cleaned closes, clipped.

    ``t-1`` is the previous row, i.e. the previous calendar session (the frame is indexed by
    sessions). The first row is NaN; a return is NaN when either close is missing (NaN stays
    NaN through the clip). A forward-filled close gives a 0 return on the filled session and the
    whole move on the session prices come back. Clipping to ``[min_daily_return,
    max_daily_return]`` bounds bad ticks and unadjusted splits: a raw 2:1 split is exactly -0.5,
    which the default clip leaves at -0.5 (the index then books a -50% loss for that asset).
    """
    ratio = clean_closes / clean_closes.shift(1)
    return (ratio - 1.0).clip(lower=min_daily_return, upper=max_daily_return)


def exclude_overridden(closes_wide: pd.DataFrame, overrides: pd.DataFrame) -> pd.DataFrame:
    """Closes (sessions x symbols) with an ``exclude`` override become missing (NaN): the
    methodology then treats them like any missing close (forward fill within its limit). The
    stored rows are untouched; overrides outside the frame are ignored."""
    excluded = overrides[overrides["action"] == "exclude"]
    if excluded.empty or closes_wide.empty:
        return closes_wide
    rows = closes_wide.index.get_indexer(pd.to_datetime(excluded["date"]))
    cols = closes_wide.columns.get_indexer(excluded["symbol"].astype(str))
    keep = (rows >= 0) & (cols >= 0)
    values = closes_wide.to_numpy(dtype=float, copy=True)
    values[rows[keep], cols[keep]] = np.nan
    return pd.DataFrame(values, index=closes_wide.index, columns=closes_wide.columns)

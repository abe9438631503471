"""The CLI summary's three figures, kept only until the summary reads stored check results
(another change in flight). Nothing else may use them: the checks themselves are
``services.gx`` (row rules) and :mod:`.prices`. Delete this module with the last import of it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def completeness(prices: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Valid closes / expected sessions over each symbol's active range.

    The active range runs from the symbol's first to its last stored row, clipped to
    ``sessions``: a stock listed mid-range or delisted is not penalised for days it did not
    trade, while a gap inside its life is. A close that is missing, NaN or <= 0 is not valid.
    Columns: symbol, first_date, last_date, expected, valid, completeness.
    """
    sessions = pd.DatetimeIndex(sessions)
    if prices.empty or sessions.empty:
        return pd.DataFrame(columns=["symbol", "first_date", "last_date", "expected", "valid", "completeness"])
    in_range = prices[prices["date"].isin(sessions)]
    valid_close = in_range["close"].gt(0) & np.isfinite(in_range["close"])
    grouped = in_range.assign(valid=valid_close).groupby("symbol")
    out = grouped.agg(first_date=("date", "min"), last_date=("date", "max"), valid=("valid", "sum")).reset_index()
    positions = sessions.searchsorted
    out["expected"] = positions(out["last_date"], side="right") - positions(out["first_date"], side="left")
    out["completeness"] = out["valid"] / out["expected"]
    return out.loc[:, ["symbol", "first_date", "last_date", "expected", "valid", "completeness"]]


def validity_violations(prices: pd.DataFrame) -> pd.DataFrame:
    """Rows breaking ``low <= min(open, close) <= max(open, close) <= high``, with a
    non-positive price, or a negative volume. Adds a ``reason`` column naming the rule."""
    o, h, low, c, v = (prices[k] for k in ("open", "high", "low", "close", "volume"))
    non_positive = (o <= 0) | (h <= 0) | (low <= 0) | (c <= 0)
    ohlc = (low > np.minimum(o, c)) | (np.maximum(o, c) > h) | (low > h)
    negative_volume = v < 0
    reason = np.select(
        [non_positive, ohlc, negative_volume],
        ["non-positive price", "OHLC inconsistent", "negative volume"],
        default="",
    )
    mask = reason != ""
    return prices.loc[mask].assign(reason=reason[mask])


def duplicate_rows(prices: pd.DataFrame) -> pd.DataFrame:
    """Rows sharing a (symbol, date) with another row."""
    return prices[prices.duplicated(["symbol", "date"], keep=False)]



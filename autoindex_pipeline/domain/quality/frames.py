"""Frame helpers shared by the checks: normalised price frames, session grids, listing dates
and each symbol's active range."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, EXCHANGE_TIMEZONE, DateLike, sessions_between

_PRICE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume")

def _to_naive_dates(values: Any) -> pd.Series:
    dates = pd.to_datetime(pd.Series(values), errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert(EXCHANGE_TIMEZONE).dt.tz_localize(None)
    return dates.dt.normalize().astype("datetime64[ns]")


def _prices(prices: pd.DataFrame, columns: Sequence[str] = _PRICE_COLUMNS) -> pd.DataFrame:
    """The needed columns, dates as tz-naive midnight datetime64[ns], sorted by (symbol, date)."""
    missing = [c for c in columns if c not in prices.columns]
    if missing:
        raise ValueError(f"price frame is missing column(s): {', '.join(missing)}")
    out = prices.loc[:, list(columns)].copy()
    out["symbol"] = out["symbol"].astype(str).to_numpy(dtype=object)
    if out["date"].dtype != "datetime64[ns]":
        out["date"] = _to_naive_dates(out["date"]).to_numpy()
    for col in columns:
        if col not in ("symbol", "date"):
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def _sessions(sessions: Iterable[Any] | None, *frames: pd.DataFrame, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """The given sessions (normalised, sorted, unique), else the calendar's sessions spanning
    the frames' dates."""
    if sessions is not None:
        idx = pd.DatetimeIndex(pd.to_datetime(list(sessions) if not isinstance(sessions, pd.Index) else sessions))
        return idx.normalize().astype("datetime64[ns]").unique().sort_values()
    dates = [f["date"] for f in frames if f is not None and len(f)]
    if not dates:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    lo = min(d.min() for d in dates)
    hi = max(d.max() for d in dates)
    return sessions_between(lo, hi, calendar)


def listing_frame(listed: Mapping[str, DateLike] | None = None, delisted: Mapping[str, DateLike] | None = None) -> pd.DataFrame:
    """A listing frame (symbol, listed, delisted) from two maps; NaT where unknown.

    ``listed`` is the first session a symbol trades, ``delisted`` its last one (inclusive).
    """
    listed = dict(listed or {})
    delisted = dict(delisted or {})
    symbols = sorted(set(listed) | set(delisted))
    return pd.DataFrame(
        {
            "symbol": pd.Series(symbols, dtype=object),
            "listed": _to_naive_dates([listed.get(s) for s in symbols]).to_numpy(),
            "delisted": _to_naive_dates([delisted.get(s) for s in symbols]).to_numpy(),
        }
    )


def _listing_lookup(listing: pd.DataFrame | None, symbols: Sequence[str]) -> tuple[pd.Series, pd.Series]:
    nat = pd.Series(pd.NaT, index=pd.Index(symbols, dtype=object), dtype="datetime64[ns]")
    if listing is None or len(listing) == 0:
        return nat, nat.copy()
    frame = listing.copy()
    frame["symbol"] = frame["symbol"].astype(str)
    frame = frame.drop_duplicates("symbol", keep="last").set_index("symbol")
    listed = _to_naive_dates(frame["listed"]) if "listed" in frame else pd.Series(pd.NaT, index=frame.index)
    delisted = _to_naive_dates(frame["delisted"]) if "delisted" in frame else pd.Series(pd.NaT, index=frame.index)
    listed.index, delisted.index = frame.index, frame.index
    return listed.reindex(nat.index).astype("datetime64[ns]"), delisted.reindex(nat.index).astype("datetime64[ns]")


def _active_bounds(
    frame: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    listing: pd.DataFrame | None,
    symbols: Sequence[str] | None,
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Each symbol's active range inside ``sessions`` as session positions ``[lo, hi]``.

    With ``symbols`` (the universe) every symbol is expected on every session of the window;
    without it, only the symbols with rows, from their first to their last row. Known listing
    (``listed``) and delisting (``delisted``) dates override either end. ``lo > hi`` means the
    symbol is not expected at all in the window.
    """
    in_window = frame[frame["date"].isin(sessions)]
    seen = pd.Index(pd.unique(in_window["symbol"]), dtype=object)
    names = pd.Index(list(dict.fromkeys([*map(str, symbols)])) if symbols is not None else sorted(seen), dtype=object)
    n = len(sessions)
    if symbols is not None:
        lo = np.zeros(len(names), dtype=np.int64)
        hi = np.full(len(names), n - 1, dtype=np.int64)
    else:
        first_last = in_window.groupby("symbol", sort=False)["date"].agg(["min", "max"]).reindex(names)
        lo = sessions.searchsorted(first_last["min"].to_numpy(), side="left").astype(np.int64)
        hi = (sessions.searchsorted(first_last["max"].to_numpy(), side="right") - 1).astype(np.int64)
    listed, delisted = _listing_lookup(listing, list(names))
    has_listed = listed.notna().to_numpy()
    has_delisted = delisted.notna().to_numpy()
    if has_listed.any():
        lo = np.where(has_listed, sessions.searchsorted(listed.to_numpy(), side="left"), lo)
    if has_delisted.any():
        hi = np.where(has_delisted, sessions.searchsorted(delisted.to_numpy(), side="right") - 1, hi)
    return names, lo.astype(np.int64), np.minimum(hi, n - 1).astype(np.int64)


def _valid_close(close: pd.Series | np.ndarray) -> np.ndarray:
    values = np.asarray(close, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (values > 0)



"""Corporate actions: splits and cash dividends (methodology section 2a). Pure and vectorised.

An **event** is one row of the events frame (``EVENT_COLUMNS``):

- ``split``: ex-date ``t``, ``ratio`` ``k`` = new shares per old share (2-for-1: ``k = 2``;
  1-for-10 reverse: ``k = 0.1``);
- ``dividend``: ex-date ``t``, ``amount`` ``D`` per share as quoted on the ex-date.

``first_seen`` is when the warehouse first recorded the event (UTC): a computation as of ``T``
uses only the events with ``first_seen <= T`` (:func:`known_as_of`).

From the events and the stored (raw) closes ``P``:

- cumulative split factor ``F[t] = prod(k)`` over the ex-dates ``<= t`` (every event of the
  symbol, also those before the frame's first session, so ``F`` does not depend on how much
  history was loaded);
- split-adjusted close ``C[t] = P[t] * F[t]``: continuous across a split; section 2's cleaning
  (invalid -> missing, bounded forward fill) applies to ``C``, so a filled close is never a
  pre-split close times a post-split factor;
- price return ``r_PR[t] = C[t] / C[t-1] - 1``;
- total return ``r_TR[t] = (C[t] + D[t] * F[t]) / C[t-1] - 1`` with ``D[t]`` the dividends with
  ex-date ``t``; a dividend whose ex-date close is missing (no valid stored close that session) is
  added on the next session with a valid close, at its ex-date factor;
- both clipped to ``[min_daily_return, max_daily_return]`` (section 2.4);
- the raw-scale cleaned close ``C[t] / F[t]`` is what the ``min_price_threshold`` screen reads,
  and market cap is ``shares x P``, where a shares figure reported at ``d`` is multiplied by
  ``F[t] / F[d]`` (the ratios of the splits since it was reported).

With no events ``F = 1`` everywhere and every figure is bit-identical to section 2's (the
functions return the unadjusted computation itself, not a product with 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from autoindex_pipeline.domain import cleaning

SPLIT = "split"
DIVIDEND = "dividend"
KINDS = (SPLIT, DIVIDEND)
EVENT_COLUMNS = ("symbol", "ex_date", "kind", "ratio", "amount", "currency", "source", "first_seen")


class CorporateActionError(ValueError):
    """An event that cannot be used (the message names the row and the column)."""


def empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype=object),
            "ex_date": pd.Series(dtype="datetime64[ns]"),
            "kind": pd.Series(dtype=object),
            "ratio": pd.Series(dtype=float),
            "amount": pd.Series(dtype=float),
            "currency": pd.Series(dtype=object),
            "source": pd.Series(dtype=object),
            "first_seen": pd.Series(dtype="datetime64[ns, UTC]"),
        }
    )


def normalise_events(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The events with the ``EVENT_COLUMNS`` types, validated, sorted by (symbol, ex_date, kind).

    ``ex_date`` becomes a tz-naive midnight timestamp, ``first_seen`` a UTC timestamp (missing:
    the epoch, i.e. known since always, for events handed in by hand). A split needs a finite
    ratio > 0, a dividend a finite amount >= 0; anything else raises ``CorporateActionError``
    naming the row (0-based position in ``frame``) and the column. A duplicate (symbol, ex_date,
    kind) is an error, like a duplicate price row.
    """
    if frame is None or frame.empty:
        return empty_events()
    missing = [c for c in ("symbol", "ex_date", "kind") if c not in frame.columns]
    if missing:
        raise CorporateActionError(f"corporate actions lack the column(s) {', '.join(missing)}")
    out = pd.DataFrame({"symbol": frame["symbol"].astype(str).str.strip().to_numpy()})
    out["ex_date"] = pd.to_datetime(frame["ex_date"].to_numpy()).normalize().astype("datetime64[ns]")
    out["kind"] = frame["kind"].astype(str).str.strip().str.lower().to_numpy()
    for column in ("ratio", "amount"):
        out[column] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float) if column in frame else np.nan
    if "currency" in frame:
        currency = frame["currency"].astype(object).reset_index(drop=True)
        out["currency"] = currency.where(currency.notna(), None)
    else:
        out["currency"] = None
    out["source"] = frame["source"].astype(str).to_numpy() if "source" in frame else "unknown"
    epoch = pd.Timestamp(0, tz="UTC")
    if "first_seen" in frame:
        # As a datetime array throughout: a tz-aware column's to_numpy() is an array of
        # Timestamp objects (~1.5 s a call for the 300k events of 3,000 symbols).
        seen = pd.DatetimeIndex(pd.to_datetime(frame["first_seen"], utc=True))
        out["first_seen"] = seen.fillna(epoch) if seen.hasnans else seen
    else:
        out["first_seen"] = pd.DatetimeIndex([epoch] * len(out))

    bad_kind = ~out["kind"].isin(KINDS)
    if bad_kind.any():
        row = int(np.flatnonzero(bad_kind.to_numpy())[0])
        raise CorporateActionError(f"row {row}, column kind: {out['kind'].iloc[row]!r} is not one of {', '.join(KINDS)}")
    splits = out["kind"] == SPLIT
    bad_ratio = splits & ~(np.isfinite(out["ratio"]) & (out["ratio"] > 0))
    if bad_ratio.any():
        row = int(np.flatnonzero(bad_ratio.to_numpy())[0])
        raise CorporateActionError(f"row {row}, column ratio: a split needs a ratio > 0 (new shares per old share), got {out['ratio'].iloc[row]!r}")
    bad_amount = ~splits & ~(np.isfinite(out["amount"]) & (out["amount"] >= 0))
    if bad_amount.any():
        row = int(np.flatnonzero(bad_amount.to_numpy())[0])
        raise CorporateActionError(f"row {row}, column amount: a dividend needs an amount >= 0 per share, got {out['amount'].iloc[row]!r}")
    dupes = out.duplicated(["symbol", "ex_date", "kind"], keep=False)
    if dupes.any():
        row = int(np.flatnonzero(dupes.to_numpy())[0])
        raise CorporateActionError(
            f"row {row}: duplicate {out['kind'].iloc[row]} for {out['symbol'].iloc[row]} on {out['ex_date'].iloc[row].date()}"
        )
    return out.sort_values(["symbol", "ex_date", "kind"], ignore_index=True)


def known_as_of(events: pd.DataFrame, as_of: pd.Timestamp | None) -> pd.DataFrame:
    """The events first seen on or before ``as_of`` (None: every event)."""
    if as_of is None or events.empty:
        return events
    moment = pd.Timestamp(as_of)
    moment = moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    return events[pd.to_datetime(events["first_seen"], utc=True) <= moment].reset_index(drop=True)


def _splits(events: pd.DataFrame, symbols: pd.Index) -> pd.DataFrame:
    frame = events[(events["kind"] == SPLIT) & events["symbol"].isin(symbols)]
    return frame.loc[:, ["symbol", "ex_date", "ratio"]]


def split_factors(events: pd.DataFrame, sessions: pd.DatetimeIndex, symbols) -> pd.DataFrame:
    """``F[t]`` (sessions x symbols): the product of the split ratios with ex-date ``<= t``.

    Splits before the first session are included (``F`` is the same whatever history is
    loaded); an ex-date that is not a session applies from the next session on.
    """
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    columns = pd.Index(list(symbols), name="symbol")
    out = np.ones((len(sessions), len(columns)))
    splits = _splits(events, columns)
    if len(splits) and len(sessions):
        cols = columns.get_indexer(splits["symbol"])
        # Position of the first session on or after the ex-date; splits after the last session
        # (position == len) do not apply yet.
        rows = np.searchsorted(sessions.to_numpy(), splits["ex_date"].to_numpy(dtype="datetime64[ns]"), side="left")
        step = np.ones((len(sessions) + 1, len(columns)))
        np.multiply.at(step, (rows, cols), splits["ratio"].to_numpy(dtype=float))
        out = np.cumprod(step[:-1], axis=0)
    return pd.DataFrame(out, index=pd.DatetimeIndex(sessions, name="date"), columns=columns)


def factor_on(events: pd.DataFrame, symbols: pd.Series, dates: pd.Series) -> np.ndarray:
    """``F`` of each (symbol, date) pair: the product of that symbol's split ratios with ex-date
    on or before the date (any calendar date, e.g. when a shares figure was reported)."""
    codes, uniques = pd.factorize(pd.Series(symbols).astype(str).to_numpy())
    uniques = pd.Index(uniques)
    days = pd.to_datetime(pd.Series(dates)).dt.normalize().to_numpy(dtype="datetime64[ns]")
    out = np.ones(len(codes))
    splits = _splits(events, pd.Index(uniques))
    for symbol, group in splits.groupby("symbol", sort=False):
        mask = codes == uniques.get_loc(symbol)
        ex = group["ex_date"].to_numpy(dtype="datetime64[ns]")
        cum = np.concatenate([[1.0], np.cumprod(group["ratio"].to_numpy(dtype=float))])
        out[mask] = cum[np.searchsorted(ex, days[mask], side="right")]
    return out


def adjust_shares(shares_long: pd.DataFrame, events: pd.DataFrame, column: str = "shares_outstanding") -> pd.DataFrame:
    """Shares figures divided by ``F`` at their report date: ``shares(d) / F[d]``, in the units
    of ``C`` (times ``F[t]`` they are the shares at ``t``; times ``C[t]`` the market cap).
    Unchanged (the same frame) when there is no split."""
    if shares_long is None or shares_long.empty or not (events["kind"] == SPLIT).any():
        return shares_long
    out = shares_long.copy()
    out[column] = out[column].astype(float) / factor_on(events, out["symbol"], out["date"])
    return out


def dividend_amounts(events: pd.DataFrame, sessions: pd.DatetimeIndex, symbols) -> pd.DataFrame:
    """``D[t] * F[t]`` (sessions x symbols): each dividend in the units of ``C``, on the first
    session on or after its ex-date (0 elsewhere). Dividends outside the sessions are dropped."""
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    columns = pd.Index(list(symbols), name="symbol")
    out = np.zeros((len(sessions), len(columns)))
    divs = events[(events["kind"] == DIVIDEND) & events["symbol"].isin(columns)]
    if len(divs) and len(sessions):
        rows = np.searchsorted(sessions.to_numpy(), divs["ex_date"].to_numpy(dtype="datetime64[ns]"), side="left")
        inside = (rows < len(sessions)) & (divs["ex_date"].to_numpy(dtype="datetime64[ns]") >= sessions[0].to_datetime64())
        factor = factor_on(events, divs["symbol"], divs["ex_date"])
        np.add.at(
            out,
            (rows[inside], columns.get_indexer(divs["symbol"])[inside]),
            (divs["amount"].to_numpy(dtype=float) * factor)[inside],
        )
    return pd.DataFrame(out, index=pd.DatetimeIndex(sessions, name="date"), columns=columns)


def carry_to_valid(amounts: pd.DataFrame, valid: pd.DataFrame) -> pd.DataFrame:
    """Move each amount on a session without a valid close to the next session with one (summed
    there); amounts after the last valid close are dropped (no close to add them to yet)."""
    values = amounts.to_numpy(dtype=float)
    ok = valid.to_numpy(dtype=bool)
    stranded = (values != 0) & ~ok
    if not stranded.any():
        return amounts
    # Only the columns with a dividend on a session without a close need the walk.
    out = values.copy()
    for col in np.flatnonzero(stranded.any(axis=0)):
        pending = 0.0
        for row in range(values.shape[0]):
            pending += values[row, col]
            out[row, col] = pending if ok[row, col] else 0.0
            if ok[row, col]:
                pending = 0.0
    return pd.DataFrame(out, index=amounts.index, columns=amounts.columns)


@dataclass(frozen=True)
class AdjustedPrices:
    """Sessions x symbols frames of section 2a."""

    factors: pd.DataFrame
    """``F``: cumulative split factor."""
    closes: pd.DataFrame
    """``C`` cleaned: split-adjusted, invalid -> missing, bounded forward fill."""
    screen_closes: pd.DataFrame
    """``C / F``: the cleaned close at the raw scale (the price screen, market cap)."""
    price_returns: pd.DataFrame
    """``r_PR``, clipped."""
    total_returns: pd.DataFrame
    """``r_TR``, clipped (the signals' returns and the headline index's)."""
    dividends: pd.DataFrame
    """``D * F`` as added to ``C`` (after carrying past missing closes)."""


def adjust(
    raw_closes: pd.DataFrame,
    events: pd.DataFrame,
    max_forward_fill_days: int,
    min_daily_return: float,
    max_daily_return: float,
) -> AdjustedPrices:
    """Section 2a on stored closes (sessions x symbols, overrides already applied): ``events`` is
    :func:`normalise_events` (already filtered :func:`known_as_of`)."""
    sessions, symbols = raw_closes.index, raw_closes.columns
    relevant = events[events["symbol"].isin(symbols)] if len(events) else events
    if relevant.empty:
        # No event: exactly section 2, and the two return series are the same frame.
        clean = cleaning.clean_closes(raw_closes, max_forward_fill_days)
        returns = cleaning.daily_returns(clean, min_daily_return, max_daily_return)
        ones = pd.DataFrame(1.0, index=sessions, columns=symbols)
        zeros = pd.DataFrame(0.0, index=sessions, columns=symbols)
        return AdjustedPrices(ones, clean, clean, returns, returns, zeros)
    factors = split_factors(relevant, sessions, symbols)
    adjusted = raw_closes.astype(float) * factors
    clean = cleaning.clean_closes(adjusted, max_forward_fill_days)
    price_returns = cleaning.daily_returns(clean, min_daily_return, max_daily_return)
    raw = raw_closes.to_numpy(dtype=float)
    valid = pd.DataFrame(np.isfinite(raw) & (raw > 0), index=sessions, columns=symbols)
    dividends = carry_to_valid(dividend_amounts(relevant, sessions, symbols), valid)
    total_returns = ((clean + dividends) / clean.shift(1) - 1.0).clip(lower=min_daily_return, upper=max_daily_return)
    return AdjustedPrices(factors, clean, clean / factors, price_returns, total_returns, dividends)


def adjusted_history(raw_closes: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Closes as a provider's split- and dividend-adjusted series shows them: back-adjusted so the
    last session is the raw close, and every earlier close scaled by the splits and dividends
    after it (the multiplicative convention of section 2a's reinvestment at the ex-date close: a
    dividend ``D`` on ex-date ``t`` scales closes before ``t`` by ``C[t] / (C[t] + D * F[t])``).
    Plain returns on it are ``r_TR`` (before clipping). Assumes a valid close on every session.
    For tests and comparisons; the pipeline never stores adjusted closes."""
    factors = split_factors(events, raw_closes.index, raw_closes.columns)
    adjusted = raw_closes.astype(float) * factors
    divs = dividend_amounts(events, raw_closes.index, raw_closes.columns)
    step = (adjusted / (adjusted + divs)).fillna(1.0)
    # Scale of each close relative to the last one: the product of the steps after it.
    after = step.iloc[::-1].cumprod().iloc[::-1].shift(-1).fillna(1.0)
    return adjusted * after / factors.iloc[-1]


PRICE_COLUMNS_SCALED = ("open", "high", "low", "close", "adj_close")


def later_split_factor(events: pd.DataFrame, symbols: pd.Series, dates: pd.Series) -> np.ndarray:
    """For each (symbol, date): the product of the symbol's split ratios with ex-date AFTER the
    date, i.e. ``F[last] / F[date]`` over the events given."""
    symbols = pd.Series(symbols).astype(str).reset_index(drop=True)
    total = np.ones(len(symbols))
    splits = _splits(events, pd.Index(symbols.unique()))
    for symbol, group in splits.groupby("symbol", sort=False):
        total[(symbols == symbol).to_numpy()] = float(np.prod(group["ratio"].to_numpy(dtype=float)))
    return total / factor_on(events, symbols, dates)


def to_raw_scale(frame: pd.DataFrame, events: pd.DataFrame, fetched_on: pd.Timestamp | None = None) -> pd.DataFrame:
    """A split-adjusted delivery (every bar restated to the share count after the splits the
    provider had applied, as TwelveData's daily series are) back to the raw scale the warehouse
    stores: prices x the ratios of the symbol's splits with ex-date after the bar and on or
    before ``fetched_on`` (the splits that had happened when the delivery was fetched; None: all
    of ``events``), volume / the same. Unchanged (the same frame) when no split concerns it."""
    if fetched_on is not None and len(events):
        events = events[pd.to_datetime(events["ex_date"]) <= pd.Timestamp(fetched_on).normalize()]
    if frame.empty or events.empty:
        return frame
    factor = later_split_factor(events, frame["symbol"], frame["date"])
    if np.all(factor == 1.0):
        return frame
    out = frame.copy()
    for column in PRICE_COLUMNS_SCALED:
        if column in out:
            out[column] = out[column].to_numpy(dtype=float) * factor
    if "volume" in out:
        out["volume"] = out["volume"].to_numpy(dtype=float) / factor
    return out


def detect_restatements(delivered: pd.DataFrame, stored: pd.DataFrame, tolerance: float = 0.002) -> pd.DataFrame:
    """Symbols whose delivered closes differ from the stored ones on the same sessions: the
    provider restated its history. Per symbol: rows compared, rows differing by more than
    ``tolerance`` (relative), the first and last such date, the median close ratio delivered /
    stored of those rows and, when that ratio is within 2% of ``1 / k`` for a split factor k in
    the quality checks' list (or its inverse), ``split_like`` = k (a split-adjusted history).
    Empty when nothing differs."""
    columns = ["symbol", "compared", "differing", "first_date", "last_date", "median_ratio", "split_like"]
    if delivered.empty or stored.empty:
        return pd.DataFrame(columns=columns)
    keys = ["symbol", "date"]
    left = delivered.loc[:, [*keys, "close"]].assign(date=lambda f: pd.to_datetime(f["date"]).astype("datetime64[ns]"))
    right = stored.loc[:, [*keys, "close"]].assign(date=lambda f: pd.to_datetime(f["date"]).astype("datetime64[ns]"))
    both = left.merge(right, on=keys, suffixes=("_new", "_old"))
    with np.errstate(invalid="ignore", divide="ignore"):
        both["ratio"] = both["close_new"] / both["close_old"]
    both = both[np.isfinite(both["ratio"]) & (both["close_old"] > 0)]
    both["differs"] = (both["ratio"] - 1.0).abs() > tolerance
    rows = []
    factors = np.array([1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0])
    factors = np.concatenate([factors, 1.0 / factors])
    for symbol, group in both.groupby("symbol", sort=True):
        diff = group[group["differs"]]
        if diff.empty:
            continue
        median = float(diff["ratio"].median())
        near = np.abs(np.log(median * factors)) <= 0.02
        rows.append((symbol, len(group), len(diff), diff["date"].min(), diff["date"].max(), median,
                     float(factors[near][0]) if near.any() else np.nan))
    return pd.DataFrame(rows, columns=columns)

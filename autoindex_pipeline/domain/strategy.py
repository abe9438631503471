"""Rebalance calendar and target weights (methodology sections 3-6). Pure and vectorised.

Inputs are wide frames indexed by calendar sessions (see ``cleaning``): cleaned closes,
cleaned clipped returns, point-in-time shares outstanding and (optionally) sentiment scores.
Every figure for a rebalance date ``D`` reads rows up to and including ``D`` only: windows are
"the N sessions ending at D", shares and sentiment are aligned as of ``D``. Nothing here loops
over assets; the rebalance dates are processed together as (dates x assets) arrays.

Pipeline at each rebalance date D (section numbers refer to the spec):

1. eligible set E (4): not the benchmark, cleaned close >= ``min_price_threshold`` and at least
   ``min_history`` valid returns among the ``vol_lookback`` sessions ending at D;
2. the sleeves over E (5), each summing to 1 or empty: every sleeve of ``sleeves.SLEEVES``
   (momentum, market cap, inverse volatility);
3. blend ``a*w_mom + b*w_cap + c*w_rp`` (each sleeve times its weight parameter) over the
   non-empty sleeves, renormalised (6);
4. optional sentiment tilt ``w * max(1 + tilt * z, 0)``, renormalised (5);
5. optional cap with iterative pro-rata redistribution (6);
6. weights below 1e-12 dropped, renormalised.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, DateLike, previous_session
from autoindex_pipeline.domain.params import FREQUENCIES, StrategyParams
from autoindex_pipeline.domain.sleeves import SLEEVES, Signals, normalise_rows

WEIGHT_FLOOR = 1e-12
"""Weights below this are dropped (section 6)."""

# Largest (dates x window x assets) block materialised at once by the window statistics:
# ~32 MB of float64, so daily rebalancing over decades of 500 assets stays in memory.
_WINDOW_BLOCK_ELEMENTS = 4_000_000

SIGNAL_COLUMNS = (*(f for f in Signals.__dataclass_fields__ if f != "eligible"), "sentiment_z")
TARGET_COLUMNS = (
    "date",
    "symbol",
    "weight",
    *(s.contribution_column for s in SLEEVES.values()),
    *(s.sleeve_column for s in SLEEVES.values()),
    *SIGNAL_COLUMNS,
)
"""Columns of ``target_weights``. ``weight`` is the final target; ``<sleeve>_weight`` are the
sleeves' contributions to it (they sum to ``weight``); ``<sleeve>_sleeve`` are the raw sleeve
weights (each sleeve sums to 1 over E, 0 for an asset outside that sleeve); the last four are
the signals at D: trailing momentum, daily volatility (ddof=1), market cap (NaN without
shares), sentiment z (0 without articles)."""


def lookback_sessions(config: StrategyParams) -> int:
    """Sessions of closes, ending at D, that reproduce the targets at D exactly.

    The windows read ``max(vol_lookback, momentum_lookback)`` returns; the first of them needs
    the close before it, and a forward fill at its start may reach back ``max_forward_fill_days``
    more sessions. Window statistics are computed on each window's own values, so a frame trimmed
    to this many sessions gives the same figures as the full history.
    """
    return max(config.vol_lookback, config.momentum_lookback) + 1 + config.max_forward_fill_days


class StrategyConfigError(ValueError):
    """The strategy configuration cannot be applied (the message names the key)."""


class NoEligibleAssetsError(ValueError):
    """No rebalance date in the requested range has an eligible asset: there is no base date."""


# --------------------------------------------------------------------------------------------
# Section 3: rebalance dates
# --------------------------------------------------------------------------------------------


def _period_keys(dates: pd.DatetimeIndex, frequency: str) -> np.ndarray:
    """An integer per date that changes exactly when a new rebalance period starts."""
    if frequency == "daily":
        return np.arange(len(dates))
    if frequency == "weekly":
        # ISO year, not calendar year: 2014-12-29 belongs to 2015-W01.
        iso = dates.isocalendar()
        return iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
    years = dates.year.to_numpy(dtype=np.int64)
    months = dates.month.to_numpy(dtype=np.int64)
    if frequency == "monthly":
        return years * 12 + months
    if frequency == "quarterly":
        return years * 4 + (months - 1) // 3
    raise StrategyConfigError(f"rebalance_frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")


def rebalance_dates(
    sessions: pd.DatetimeIndex,
    frequency: str,
    start_date: DateLike | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> pd.DatetimeIndex:
    """Rebalance dates among ``sessions`` (consecutive sessions of ``calendar``), on or after
    ``start_date``.

    ``daily``: every session; ``weekly``: the first session of each ISO week; ``monthly``: the
    first session of each calendar month; ``quarterly``: the first session of each calendar
    quarter (it always falls in Jan/Apr/Jul/Oct). A session starts a period when the previous
    *calendar* session (asked of the exchange calendar for the first one) belongs to another
    period, so the answer depends on the calendar alone, never on where ``sessions`` or the data
    begin: with ``weekly`` and a Wednesday ``start_date``, the first rebalance date is the first
    session of the next ISO week.
    """
    if frequency not in FREQUENCIES:
        raise StrategyConfigError(f"rebalance_frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}")
    sessions = pd.DatetimeIndex(sessions).normalize().unique().sort_values()
    if sessions.empty:
        return sessions
    if frequency == "daily":
        starts = sessions
    else:
        previous = previous_session(sessions[0], calendar)
        keys = _period_keys(pd.DatetimeIndex([previous]).append(sessions), frequency)
        starts = sessions[keys[1:] != keys[:-1]]
    if start_date is not None:
        starts = starts[starts >= pd.Timestamp(start_date).normalize()]
    return starts


# --------------------------------------------------------------------------------------------
# Point-in-time inputs: shares outstanding, sentiment
# --------------------------------------------------------------------------------------------


def shares_as_of(
    shares_long: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    symbols: Iterable[str],
    column: str = "shares_outstanding",
) -> pd.DataFrame:
    """Shares outstanding known at each session: sessions x symbols.

    ``shares_long`` has one row per (symbol, date) where ``date`` is when the figure became
    known. The value at session t is the latest figure dated on or before t (a figure dated on a
    weekend applies from the next session); a figure dated after t is never used. Non-finite or
    non-positive figures are ignored (the previous figure stays in force). NaN before the first
    known figure: the market-cap sleeve then ignores the asset.
    """
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    symbols = list(symbols)
    empty = pd.DataFrame(np.nan, index=sessions, columns=pd.Index(symbols, name="symbol"))
    if shares_long is None or shares_long.empty or sessions.empty:
        return empty
    frame = shares_long.loc[:, ["symbol", "date", column]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]")
    values = frame[column].astype(float)
    frame = frame[np.isfinite(values) & (values > 0)]
    frame = frame[frame["symbol"].isin(symbols) & (frame["date"] <= sessions[-1])]
    if frame.empty:
        return empty
    frame = frame.sort_values(["symbol", "date"]).drop_duplicates(["symbol", "date"], keep="last")
    wide = frame.pivot(index="date", columns="symbol", values=column).astype(float)
    # ffill over the union of "known from" dates and sessions carries each figure forward from
    # the date it became known; reindexing back to sessions reads it as of each session.
    union = wide.index.union(sessions)
    out = wide.reindex(union).ffill().reindex(sessions).reindex(columns=symbols)
    out.index.name = "date"
    out.columns.name = "symbol"
    return out


def sentiment_z(
    daily_sentiment_long: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    window_days: int,
    symbols: Iterable[str] | None = None,
    count_column: str = "article_count",
    score_column: str = "mean_score",
) -> pd.DataFrame:
    """Sentiment ``z`` per session and symbol: sessions x symbols.

    ``daily_sentiment_long`` holds per (symbol, date) the article count and mean score (date in
    the exchange time zone). ``z[D, i]`` is the mean score over the *articles* of the
    ``window_days`` calendar days ``D - window_days + 1 .. D`` (both inclusive): each day's mean
    weighted by its article count. 0 when the window has no article. Only days on or before D
    are read. Rows with a non-positive count or a non-finite score are ignored.
    """
    sessions = pd.DatetimeIndex(sessions).astype("datetime64[ns]")
    frame = daily_sentiment_long if daily_sentiment_long is not None else pd.DataFrame()
    if symbols is None:
        symbols = sorted(frame["symbol"].unique()) if len(frame) else []
    symbols = list(symbols)
    out = pd.DataFrame(0.0, index=sessions, columns=pd.Index(symbols, name="symbol"))
    if frame.empty or sessions.empty or not symbols:
        out.index.name = "date"
        return out
    frame = frame.loc[:, ["symbol", "date", count_column, score_column]].copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize().astype("datetime64[ns]")
    counts = frame[count_column].astype(float)
    scores = frame[score_column].astype(float)
    keep = (counts > 0) & np.isfinite(scores) & frame["symbol"].isin(symbols)
    frame = frame[keep].assign(n=counts[keep], weighted=counts[keep] * scores[keep])
    days = pd.date_range(sessions[0] - pd.Timedelta(days=window_days - 1), sessions[-1], freq="D").astype("datetime64[ns]")
    frame = frame[frame["date"].isin(days)]
    if frame.empty:
        out.index.name = "date"
        return out
    n = frame.pivot_table(index="date", columns="symbol", values="n", aggfunc="sum")
    weighted = frame.pivot_table(index="date", columns="symbol", values="weighted", aggfunc="sum")
    n = n.reindex(index=days, columns=symbols).fillna(0.0)
    weighted = weighted.reindex(index=days, columns=symbols).fillna(0.0)
    # A trailing window over a gap-free calendar-day grid reads only days <= D.
    n_window = n.rolling(window_days, min_periods=1).sum().reindex(sessions)
    w_window = weighted.rolling(window_days, min_periods=1).sum().reindex(sessions)
    z = (w_window / n_window.where(n_window > 0)).fillna(0.0)
    z.index.name = "date"
    z.columns.name = "symbol"
    return z


# --------------------------------------------------------------------------------------------
# Window statistics at rebalance dates
# --------------------------------------------------------------------------------------------


def _positions(index: pd.DatetimeIndex, dates: pd.DatetimeIndex) -> np.ndarray:
    pos = index.get_indexer(pd.DatetimeIndex(dates))
    if (pos < 0).any():
        missing = pd.DatetimeIndex(dates)[pos < 0]
        raise ValueError(f"rebalance dates not in the price frame's sessions: {[d.date() for d in missing[:5]]}")
    return pos


def _windows(values: np.ndarray, pos: np.ndarray, length: int) -> Iterable[tuple[slice, np.ndarray]]:
    """Yield (slice of ``pos``, block of shape (k, assets, length)) with the ``length`` rows
    ending at each position (inclusive); rows before the first one are NaN ("count what
    exists"). Blocks are bounded in size so memory does not grow with the number of dates."""
    n_assets = values.shape[1]
    padded = np.vstack([np.full((length - 1, n_assets), np.nan), values])
    view = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)  # (rows, assets, length)
    step = max(1, _WINDOW_BLOCK_ELEMENTS // max(1, n_assets * length))
    for lo in range(0, len(pos), step):
        chunk = slice(lo, lo + step)
        yield chunk, view[pos[chunk]]


def _valid_counts(returns: np.ndarray, pos: np.ndarray, length: int) -> np.ndarray:
    """Number of non-NaN returns among the ``length`` rows ending at each position (exact
    integer arithmetic on a cumulative count)."""
    cum = np.vstack([np.zeros((1, returns.shape[1])), np.cumsum(~np.isnan(returns), axis=0)])
    lo = np.maximum(pos + 1 - length, 0)
    return cum[pos + 1] - cum[lo]


def _momentum(returns: np.ndarray, pos: np.ndarray, length: int) -> np.ndarray:
    """``prod(1 + r) - 1`` over the ``length`` sessions ending at each position, a missing
    return counted as 0 (growth factor 1)."""
    out = np.empty((len(pos), returns.shape[1]))
    for chunk, block in _windows(returns, pos, length):
        out[chunk] = np.prod(np.where(np.isnan(block), 1.0, 1.0 + block), axis=-1) - 1.0
    return out


def _volatility(returns: np.ndarray, pos: np.ndarray, length: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the valid returns over the ``length`` sessions
    ending at each position; NaN with fewer than 2 valid returns.

    Two-pass (mean, then squared deviations) on each window's own values, so the figure does
    not depend on how much history was loaded. A window whose valid returns are all equal is
    exactly 0: the floating-point mean of equal numbers can miss them by an ulp, and a spurious
    1e-18 volatility would otherwise win the inverse-volatility sleeve.
    """
    out = np.empty((len(pos), returns.shape[1]))
    for chunk, block in _windows(returns, pos, length):
        valid = ~np.isnan(block)
        n = valid.sum(axis=-1)
        filled = np.where(valid, block, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = filled.sum(axis=-1) / n
            dev = np.where(valid, block - mean[..., None], 0.0)
            std = np.sqrt((dev * dev).sum(axis=-1) / (n - 1))
        high = np.where(valid, block, -np.inf).max(axis=-1)
        low = np.where(valid, block, np.inf).min(axis=-1)
        std = np.where(high == low, 0.0, std)
        out[chunk] = np.where(n >= 2, std, np.nan)
    return out


# --------------------------------------------------------------------------------------------
# Sections 4-6
# --------------------------------------------------------------------------------------------


def _frame_at(frame: pd.DataFrame | None, index: pd.DatetimeIndex, columns: pd.Index, pos: np.ndarray, fill: float) -> np.ndarray:
    """Rows ``pos`` of ``frame`` aligned to (index, columns), ``fill`` where it has no value."""
    if frame is None:
        return np.full((len(pos), len(columns)), fill)
    values = frame.reindex(index=index, columns=columns).to_numpy(dtype=float)[pos]
    return np.where(np.isnan(values), fill, values)


def eligibility(
    clean_closes: pd.DataFrame,
    returns: pd.DataFrame,
    dates: pd.DatetimeIndex,
    config: StrategyParams,
    benchmark: str | None = "SPY",
) -> pd.DataFrame:
    """Eligible assets at each date: a boolean frame dates x symbols (section 4).

    Eligible when: not the benchmark; cleaned close at D (forward fill included) is at least
    ``min_price_threshold``; at least ``min_history`` valid returns among the ``vol_lookback``
    sessions ending at D (inclusive), counting only the sessions that exist in the frame.
    """
    pos = _positions(clean_closes.index, dates)
    closes = clean_closes.to_numpy(dtype=float)[pos]
    rets = returns.reindex(index=clean_closes.index, columns=clean_closes.columns).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        price_ok = closes >= config.min_price_threshold
    history_ok = _valid_counts(rets, pos, config.vol_lookback) >= config.min_history
    eligible = price_ok & history_ok
    if benchmark is not None:
        eligible &= (clean_closes.columns != benchmark)[None, :]
    return pd.DataFrame(eligible, index=pd.DatetimeIndex(dates, name="date"), columns=clean_closes.columns)


def cap_weights(weights: np.ndarray, eligible: np.ndarray, cap: float) -> np.ndarray:
    """Cap each row of ``weights`` (rows sum to 1) at ``cap``, redistributing the excess pro
    rata to the uncapped assets, repeated until none exceeds the cap.

    Each pass fixes every asset above the cap at the cap and rescales the uncapped ones to
    carry ``1 - cap * #capped``; the capped set only grows, so it ends within |E| passes. When
    the uncapped assets all weigh 0 (pro rata to nothing), the remainder is shared equally
    among the uncapped eligible assets. Infeasible when ``cap * |E| < 1``: the caller checks.
    """
    w = weights.copy()
    capped = np.zeros_like(eligible)
    for _ in range(weights.shape[1] + 1):
        over = w > cap
        if not over.any():
            break
        capped |= over
        free = 1.0 - cap * capped.sum(axis=1)
        rest = np.where(capped, 0.0, w)
        rest_sum = rest.sum(axis=1)
        open_slots = eligible & ~capped
        n_open = open_slots.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            pro_rata = rest * (free / rest_sum)[:, None]
            equal = np.where(open_slots, (free / n_open)[:, None], 0.0)
        redistributed = np.where((rest_sum > 0)[:, None], pro_rata, np.where((n_open > 0)[:, None], equal, 0.0))
        touched = over.any(axis=1)[:, None]
        w = np.where(touched, np.where(capped, cap, redistributed), w)
    return w


def target_weights(
    clean_closes: pd.DataFrame,
    returns: pd.DataFrame,
    shares_pit: pd.DataFrame | None,
    config: StrategyParams,
    dates: pd.DatetimeIndex,
    sentiment: pd.DataFrame | None = None,
    benchmark: str | None = "SPY",
) -> pd.DataFrame:
    """Target weights at each rebalance date, long format (columns ``TARGET_COLUMNS``).

    ``clean_closes`` and ``returns`` are sessions x symbols (``cleaning``); ``shares_pit`` is
    ``shares_as_of`` (or None: no market-cap sleeve); ``sentiment`` is ``sentiment_z`` (or None:
    z = 0); ``dates`` are rebalance dates, all sessions of ``clean_closes``.

    Contributions: with ``S = sum of a, b, c over the non-empty sleeves``, asset i's blend is
    ``sum_k (coef_k * w_k,i) / S`` and sleeve k's share of it is ``coef_k * w_k,i / sum_k
    coef_k * w_k,i``. The tilt, the cap and the final renormalisation scale an asset's weight,
    not its mix, so each sleeve's contribution is ``weight * share``: the contributions sum to
    ``weight`` on every row, and without tilt or cap they equal ``coef_k * w_k,i / S``.
    (An asset that only holds weight through the cap's equal-share fallback takes the date's
    overall sleeve mix.)

    A date with no eligible asset (or whose non-empty sleeves all have coefficient 0) yields no
    rows. Raises ``StrategyConfigError`` when ``max_asset_weight * |E| < 1`` at a date.
    """
    dates = pd.DatetimeIndex(dates)
    columns = clean_closes.columns
    index = clean_closes.index
    if dates.empty or len(columns) == 0:
        return _empty_targets()
    pos = _positions(index, dates)
    eligible = eligibility(clean_closes, returns, dates, config, benchmark).to_numpy()
    rets = returns.reindex(index=index, columns=columns).to_numpy(dtype=float)
    closes = clean_closes.to_numpy(dtype=float)[pos]

    momentum = _momentum(rets, pos, config.momentum_lookback)
    volatility = _volatility(rets, pos, config.vol_lookback)
    market_cap = _frame_at(shares_pit, index, columns, pos, np.nan) * closes
    z = _frame_at(sentiment, index, columns, pos, 0.0)

    signals = Signals(eligible=eligible, momentum_score=momentum, volatility=volatility, market_cap=market_cap)
    registered = list(SLEEVES.values())
    sleeves = [s.weights(signals) for s in registered]
    parts = [getattr(config, s.weight_param) * w for s, w in zip(registered, sleeves, strict=True)]
    # Summed left to right, as the blend always was, so the weights stay bit-identical.
    blend = parts[0]
    for part in parts[1:]:
        blend = blend + part
    # Dividing by the blend's own sum is dividing by S (each non-empty sleeve sums to 1).
    weights, _ = normalise_rows(blend)

    if sentiment is not None and config.sentiment_tilt != 0.0:
        # Floored at 0: a long-only index cannot hold a negative weight, whatever the tilt.
        tilted = weights * np.maximum(1.0 + config.sentiment_tilt * z, 0.0)
        tilted, nonempty = normalise_rows(tilted)
        # If the tilt zeroes every weight of a date, the untilted blend stands.
        weights = np.where(nonempty[:, None], tilted, weights)

    if config.max_asset_weight is not None:
        cap = config.max_asset_weight
        size = eligible.sum(axis=1)
        infeasible = (size > 0) & (cap * size < 1.0 - 1e-12)
        if infeasible.any():
            first = int(np.argmax(infeasible))
            raise StrategyConfigError(
                f"max_asset_weight={cap} is infeasible on {dates[first].date()}: only {int(size[first])} eligible "
                f"asset(s), and max_asset_weight * eligible must be >= 1 (raise max_asset_weight to at least "
                f"{1.0 / size[first]:.6g} or leave it unset)"
            )
        weights = cap_weights(weights, eligible, cap)

    weights = np.where(weights < WEIGHT_FLOOR, 0.0, weights)
    weights, _ = normalise_rows(weights)

    # Each sleeve's share of an asset's blend. An asset with no blend of its own that received
    # weight from the cap's equal-share fallback takes the date's overall sleeve mix.
    with np.errstate(invalid="ignore", divide="ignore"):
        row_total = blend.sum(axis=1, keepdims=True)
        shares = [
            np.where(blend > 0, part / blend, np.where(row_total > 0, part.sum(axis=1, keepdims=True) / row_total, 0.0))
            for part in parts
        ]
    rows, cols = np.nonzero(weights > 0)
    if len(rows) == 0:
        return _empty_targets()
    final = weights[rows, cols]
    data: dict[str, object] = {"date": dates[rows], "symbol": np.asarray(columns)[cols], "weight": final}
    for s, share in zip(registered, shares, strict=True):
        data[s.contribution_column] = final * share[rows, cols]
    for s, w in zip(registered, sleeves, strict=True):
        data[s.sleeve_column] = w[rows, cols]
    for name in SIGNAL_COLUMNS[:-1]:
        data[name] = getattr(signals, name)[rows, cols]
    data["sentiment_z"] = z[rows, cols]
    out = pd.DataFrame(data)
    return out.sort_values(["date", "symbol"], ignore_index=True)


def _empty_targets() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=float) for c in TARGET_COLUMNS})
    frame["date"] = pd.Series(dtype="datetime64[ns]")
    frame["symbol"] = pd.Series(dtype=object)
    return frame


def base_date(targets: pd.DataFrame, dates: pd.DatetimeIndex, start_date: DateLike | None = None) -> pd.Timestamp:
    """``D0``: the first rebalance date in ``dates`` (on or after ``start_date``) at which the
    targets hold at least one asset, i.e. at least one asset is eligible (section 3).

    ``targets`` is ``target_weights`` for (at least) those dates. Raises
    ``NoEligibleAssetsError`` naming the range when there is none.
    """
    dates = pd.DatetimeIndex(dates)
    if start_date is not None:
        dates = dates[dates >= pd.Timestamp(start_date).normalize()]
    held = dates[dates.isin(pd.DatetimeIndex(targets["date"].unique()))] if len(targets) else dates[:0]
    if held.empty:
        span = f"{dates[0].date()} to {dates[-1].date()}" if len(dates) else "the requested range (no rebalance date)"
        raise NoEligibleAssetsError(
            f"no rebalance date from {span} has an eligible asset (check min_price_threshold, min_history, "
            "vol_lookback and that prices were ingested for the period)"
        )
    return pd.Timestamp(held[0])

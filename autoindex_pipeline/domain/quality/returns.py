"""Checks on daily moves: the return cap (blocking), the robust z-score (a warning), split-like
moves that no recorded split explains (blocking) and recorded corporate actions that the prices
do not show (a warning), with the past-only robust z they rest on.

The cap and the robust z are two checks with one computation (:func:`check_returns`): the same
returns, the same split and reversion excuses, so a row is judged once and lands in exactly one
of them (beyond the cap: ``return_cap``; inside it but z > 5: ``robust_z``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, sessions_between
from autoindex_pipeline.domain.quality.frames import _prices, _sessions, _valid_close
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _empty_offending, _offending, _outcome, _pass_rates
from autoindex_pipeline.domain.quality.rules import severity_of

SPLIT_FACTORS: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 5.0, 8.0, 10.0, 20.0)
"""Split factors k (new shares per old share) looked for, forward (price x 1/k) and reverse
(price x k). All are at least 3:2, i.e. a 50%+ move measured as ``max(ratio, 1/ratio) - 1``."""

_WINDOW_BLOCK_ELEMENTS = 4_000_000


def lookback_sessions(window: int = 60, max_forward_fill_days: int = 2) -> int:
    """Sessions of history before a window that the look-back checks need for its first session.

    The robust z of the window's first session t0 AND of the session before it (whose spike
    excuses t0's reversion) reads ``window`` past returns, the oldest at t0 - window - 1; that
    return needs the close before it, which may be forward-filled from up to
    ``max_forward_fill_days`` sessions earlier: ``window + max_forward_fill_days + 2``. The split
    flags need two closes back, which this covers.
    """
    return int(window) + int(max_forward_fill_days) + 2


def _combined(prices: pd.DataFrame, history: pd.DataFrame | None, columns: Sequence[str]) -> pd.DataFrame:
    """History + prices (prices win on a shared key), sorted, with ``in_window``."""
    frame = _prices(prices, columns).assign(in_window=True)
    if history is not None and len(history):
        hist = _prices(history, columns).assign(in_window=False)
        first = frame["date"].min() if len(frame) else None
        if first is not None:
            hist = hist[hist["date"] < first]
        frame = pd.concat([hist, frame], ignore_index=True)
        frame = frame.drop_duplicates(["symbol", "date"], keep="last")
        frame = frame.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    return frame


def _split_label(k: np.ndarray) -> np.ndarray:
    labels = {1.5: "3:2 split", 2 / 3: "2:3 reverse split"}
    out = []
    for x in k:
        if any(abs(x - key) < 1e-12 for key in labels):
            out.append(next(v for key, v in labels.items() if abs(x - key) < 1e-12))
        elif x >= 1:
            out.append(f"{x:g}:1 split")
        else:
            out.append(f"1:{1 / x:g} reverse split")
    return np.asarray(out, dtype=object)


def _split_flags(frame: pd.DataFrame, factors: Sequence[float], tolerance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On a (symbol, date)-sorted frame: (is probable split, matched factor k, close ratio).

    A row is a probable split when, against the previous row of the same symbol,
    1. the close ratio is within ``tolerance`` (in log terms) of ``1/k`` for a factor k in
       ``factors`` or its inverse (reverse split),
    2. the open moved by the same factor overnight (when there is an open): a split shifts the
       whole bar, a bad print of the close alone does not,
    3. the move does not revert the previous row's move (the row after a bad print is a return
       to normal, not a split), and
    4. the next row (when there is one) does not revert it (a print x10 then back is not a
       1:10 reverse split).
    """
    sym = frame["symbol"].to_numpy()
    close = frame["close"].to_numpy()
    open_ = frame["open"].to_numpy() if "open" in frame else np.full(len(frame), np.nan)
    valid = _valid_close(close)
    c = np.where(valid, close, np.nan)
    same_prev = np.r_[False, sym[1:] == sym[:-1]]
    same_next = np.r_[sym[:-1] == sym[1:], False]
    prev = np.where(same_prev, np.r_[np.nan, c[:-1]], np.nan)
    nxt = np.where(same_next, np.r_[c[1:], np.nan], np.nan)
    prev2 = np.where(same_prev & np.r_[False, same_prev[:-1]], np.r_[np.nan, np.nan, c[:-2]], np.nan) if len(c) >= 2 else np.full(len(c), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        lr = np.log(c / prev)
        lo = np.log(np.where(open_ > 0, open_, np.nan) / prev)
        lr_next = np.log(nxt / prev)
        lr_prev2 = np.log(c / prev2)
        lr_prevmove = np.log(prev / prev2)
    ks = np.asarray(list(factors) + [1.0 / f for f in factors], dtype=float)
    targets = -np.log(ks)  # log price ratio of a split of factor k
    dist = np.abs(lr[:, None] - targets[None, :])
    best = np.nanargmin(np.where(np.isnan(dist), np.inf, dist), axis=1) if len(lr) else np.zeros(0, dtype=np.int64)
    best_dist = dist[np.arange(len(lr)), best] if len(lr) else np.zeros(0)
    near = best_dist <= tolerance
    open_ok = ~np.isfinite(lo) | (np.abs(lo - targets[best]) <= tolerance)
    with np.errstate(invalid="ignore"):
        reverted_next = np.isfinite(lr_next) & (np.abs(lr_next) < np.abs(lr) / 2)
        reverts_prev = np.isfinite(lr_prev2) & (np.abs(lr_prevmove) > np.abs(lr) / 2) & (np.abs(lr_prev2) < np.abs(lr) / 2)
    flags = near & open_ok & ~reverted_next & ~reverts_prev & np.isfinite(lr)
    return flags, ks[best] if len(lr) else np.zeros(0), np.exp(lr)


def _explained(frame: pd.DataFrame, ratio: np.ndarray, events: pd.DataFrame | None, tolerance: float) -> np.ndarray:
    """Rows whose close ratio a recorded split on that (symbol, date) explains: the observed
    ratio within ``tolerance`` (log) of ``1 / k`` (the product of the day's splits)."""
    if events is None or events.empty:
        return np.zeros(len(frame), dtype=bool)
    splits = events[events["kind"] == "split"]
    if splits.empty:
        return np.zeros(len(frame), dtype=bool)
    k = splits.assign(date=pd.to_datetime(splits["ex_date"]).astype("datetime64[ns]")).groupby(["symbol", "date"])["ratio"].prod()
    keys = pd.MultiIndex.from_arrays([frame["symbol"].to_numpy(), pd.to_datetime(frame["date"]).to_numpy()])
    factor = k.reindex(keys).to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.isfinite(factor) & (np.abs(np.log(ratio * factor)) <= tolerance)


def check_probable_splits(
    prices: pd.DataFrame,
    history: pd.DataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    factors: Sequence[float] = SPLIT_FACTORS,
    tolerance: float = 0.1,
) -> CheckOutcome:
    """Overnight moves that look like a split (see :func:`_split_flags`) and that no recorded
    split explains (``events``: the corporate actions, ``domain.corporate_actions``). ERROR.

    A split the warehouse knows is applied by the methodology (section 2a) and passes; one it
    does not know would be booked as a real loss or gain, so the row is wrong data until the
    event is recorded (or the row overridden). "50%+ move with a ratio near 2:1, 3:1, 3:2,
    1:2..." is read as: the split factor is at least 3:2 (``max(ratio, 1/ratio) - 1 >= 50%``)
    and the observed close ratio is within ``tolerance`` in log terms (default 0.1, i.e. about
    +-10%, room for the day's own move) of ``1/k``. ``history`` supplies the close before the
    window's first row. Offending value: the close ratio; reason: the matched split, the
    symbol's date and "no recorded split". Pass rate: rows with a previous close that are not
    unexplained split-like moves.
    """
    frame = _combined(prices, history, ("symbol", "date", "open", "close"))
    flags, k, ratio = _split_flags(frame, factors, tolerance)
    flags = flags & ~_explained(frame, ratio, events, tolerance)
    window = frame["in_window"].to_numpy()
    with np.errstate(invalid="ignore"):
        evaluated = window & np.isfinite(ratio)
    bad = flags & window
    label = _split_label(k[bad])
    reason = pd.Series(label, dtype=object) + pd.Series(ratio[bad]).map(
        lambda r: f"-like move with no recorded split (close x{r:.3f})").to_numpy(dtype=object)
    off = _offending(frame["symbol"].to_numpy()[bad], frame["date"].to_numpy()[bad], ratio[bad], reason.to_numpy(), severity_of("probable_splits"))
    codes, uniques = pd.factorize(frame["symbol"])
    return _outcome(
        "probable_splits",
        off,
        severity=severity_of("probable_splits"),
        observed=float(bad.sum()),
        threshold=0,
        description=f"overnight close and open ratio within {tolerance:g} (log) of a split factor, not reverted, "
        "and no recorded split explaining it",
        per_symbol=_pass_rates(codes, uniques, bad, evaluated),
        evaluated=int(evaluated.sum()),
        details={"splits": off.loc[:, ["symbol", "date", "value", "reason"]]},
    )


def check_corporate_action_moves(
    prices: pd.DataFrame,
    history: pd.DataFrame | None,
    events: pd.DataFrame | None,
    *,
    tolerance: float = 0.1,
) -> CheckOutcome:
    """Recorded corporate actions the prices do not show. WARN.

    A split with ex-date in the window whose close ratio (against the previous close of the
    symbol) is not within ``tolerance`` (log) of ``1 / k``: the event or the prices are wrong,
    and applying it would book a fake move. A dividend whose amount is not below the previous
    close (a payout of the whole price is not a dividend). An event on a session without a close
    (or without a previous one) cannot be judged and is not evaluated. Offending value: the
    observed close ratio (splits) or amount / previous close (dividends).
    """
    frame = _combined(prices, history, ("symbol", "date", "close"))
    name = "corporate_action_moves"
    severity = severity_of(name)
    in_window = frame.loc[frame["in_window"], "date"]
    usable = events is not None and len(events) and len(in_window)
    if usable:
        lo, hi = in_window.min(), in_window.max()
        ex = pd.to_datetime(events["ex_date"]).astype("datetime64[ns]")
        judged = events.assign(date=ex)[(ex >= lo) & (ex <= hi) & events["symbol"].isin(frame["symbol"].unique())]
    if not usable or judged.empty:
        return _outcome(name, _empty_offending(), severity=severity, observed=0.0, threshold=0,
                        description="recorded splits match the close ratio, dividends are below the close", evaluated=0)
    close = np.where(_valid_close(frame["close"].to_numpy()), frame["close"].to_numpy(dtype=float), np.nan)
    same_prev = np.r_[False, frame["symbol"].to_numpy()[1:] == frame["symbol"].to_numpy()[:-1]]
    prev = np.where(same_prev, np.r_[np.nan, close[:-1]], np.nan)
    lookup = pd.DataFrame({"symbol": frame["symbol"].to_numpy(), "date": pd.to_datetime(frame["date"]).to_numpy(),
                           "close": close, "prev": prev})
    merged = judged.merge(lookup, on=["symbol", "date"], how="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = merged["close"].to_numpy(dtype=float) / merged["prev"].to_numpy(dtype=float)
        is_split = (merged["kind"] == "split").to_numpy()
        k = merged["ratio"].to_numpy(dtype=float)
        amount = merged["amount"].to_numpy(dtype=float)
        value = np.where(is_split, ratio, amount / merged["prev"].to_numpy(dtype=float))
        evaluated = np.isfinite(value)
        bad_split = is_split & evaluated & ~(np.abs(np.log(ratio * k)) <= tolerance)
        bad_dividend = ~is_split & evaluated & ~(value < 1.0)
    bad = bad_split | bad_dividend
    reason = np.where(
        bad_split[bad],
        pd.Series(k[bad]).map(lambda x: f"recorded split {x:g} (new shares per old) but the close moved x").to_numpy(dtype=object)
        + pd.Series(ratio[bad]).map(lambda r: f"{r:.3f}").to_numpy(dtype=object),
        pd.Series(amount[bad]).map(lambda a: f"recorded dividend {a:g} is not below the previous close").to_numpy(dtype=object),
    )
    rows = merged[bad]
    off = _offending(rows["symbol"].to_numpy(), rows["date"].to_numpy(), value[bad], reason, severity)
    return _outcome(
        name, off, severity=severity, observed=float(bad.sum()), threshold=0,
        description=f"recorded splits within {tolerance:g} (log) of the close ratio, dividends below the previous close",
        evaluated=int(evaluated.sum()),
    )


def _sorted_median(sorted_block: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Median along the last axis of an ascending-sorted block whose NaNs sit at the end."""
    lo = np.clip((counts - 1) // 2, 0, None)[..., None]
    hi = np.clip(counts // 2, 0, None)[..., None]
    a = np.take_along_axis(sorted_block, lo, axis=-1)[..., 0]
    b = np.take_along_axis(sorted_block, hi, axis=-1)[..., 0]
    return np.where(counts > 0, (a + b) / 2.0, np.nan)


def past_robust_z(returns: np.ndarray, window: int = 60, min_periods: int = 20, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Robust z of each return against the ``window`` returns BEFORE it (past only).

    ``returns`` is sessions x symbols (NaN = no return). For row t the reference is rows
    t-window .. t-1: ``z = 0.6745 * (r - median) / MAD``; NaN with fewer than ``min_periods``
    valid past returns or a zero MAD. Only ``rows`` (a boolean mask over sessions, default all)
    are computed. Blocks of sessions are sorted at once (memory bounded), never one row at a time.
    Returns (z, median, mad).
    """
    r = np.asarray(returns, dtype=float)
    n_t, n_s = r.shape
    z = np.full((n_t, n_s), np.nan)
    med = np.full((n_t, n_s), np.nan)
    mad = np.full((n_t, n_s), np.nan)
    if n_t == 0 or n_s == 0:
        return z, med, mad
    pad = np.vstack([np.full((window, n_s), np.nan), r])
    views = np.lib.stride_tricks.sliding_window_view(pad, window, axis=0)  # views[t] = r[t-window:t]
    wanted = np.flatnonzero(np.ones(n_t, dtype=bool) if rows is None else np.asarray(rows, dtype=bool))
    if len(wanted) == 0:
        return z, med, mad
    step = max(1, _WINDOW_BLOCK_ELEMENTS // (n_s * window))
    for start in range(0, len(wanted), step):
        idx = wanted[start : start + step]
        block = views[idx]  # (b, symbols, window)
        counts = np.sum(~np.isnan(block), axis=-1)
        m = _sorted_median(np.sort(block, axis=-1), counts)
        d = _sorted_median(np.sort(np.abs(block - m[..., None]), axis=-1), counts)
        ok = (counts >= min_periods) & (d > 0)
        m = np.where(ok, m, np.nan)
        d = np.where(ok, d, np.nan)
        med[idx], mad[idx] = m, d
        with np.errstate(invalid="ignore", divide="ignore"):
            z[idx] = 0.6745 * (r[idx] - m) / d
    return z, med, mad


def check_returns(
    prices: pd.DataFrame,
    history: pd.DataFrame | None = None,
    max_daily_return: float = 0.5,
    z_threshold: float = 5.0,
    window: int = 60,
    *,
    min_periods: int = 20,
    min_daily_return: float | None = None,
    max_forward_fill_days: int = 2,
    sessions: pd.DatetimeIndex | None = None,
    split_tolerance: float = 0.1,
    calendar: str = DEFAULT_CALENDAR,
) -> tuple[CheckOutcome, CheckOutcome]:
    """Daily returns beyond the cap (``return_cap``) and robust z-scores above ``z_threshold``
    inside it (``robust_z``), in one pass.

    Returns are the methodology's (section 2) before clipping: closes on the session grid, a
    missing close forward-filled for at most ``max_forward_fill_days`` sessions, ``r = P[t] /
    P[t-1] - 1``; only sessions with a row of their own are evaluated. So a return across a
    longer gap (a 5-session halt) is undefined here exactly as it is for the index; the gap is
    the completeness check's finding, and the reopening move is not called an outlier.

    - Cap: ``r > max_daily_return`` or ``r < min_daily_return`` (default ``-max_daily_return``):
      the clip would silently distort the index.
    - Robust z: ``0.6745 * (r - median) / MAD`` over the ``window`` returns of the sessions
      BEFORE t (never t itself or later; ``history`` provides them before the window's first
      session), at least ``min_periods`` of them, MAD > 0. Fat tails make clean data cross 5
      about once a year per symbol (Student-t with 4 degrees of freedom).
    - Rows that are probable splits (:func:`check_probable_splits`) are neither (they are
      reported there), and neither is the return to normal the session after a flagged spike
      (the bad print is the spike's row; the next close is fine).

    Offending value: the return; reason names the rule (and the z-score). Pass rate: rows with
    a return that the check does not flag.
    """
    lower = -max_daily_return if min_daily_return is None else min_daily_return
    frame = _combined(prices, history, ("symbol", "date", "open", "close"))
    cap_text = f"return > {max_daily_return:g} or < {lower:g}"
    z_text = f"robust z over {window} past sessions > {z_threshold:g}"
    window_rows = frame[frame["in_window"]]
    if window_rows.empty:
        return (
            _outcome("return_cap", _empty_offending(), severity=severity_of("return_cap"), observed=0.0, threshold=max_daily_return, description=cap_text),
            _outcome("robust_z", _empty_offending(), severity=severity_of("robust_z"), observed=0.0, threshold=z_threshold, description=z_text),
        )
    grid = _sessions(sessions, frame, calendar=calendar)
    if sessions is not None and len(grid) and frame["date"].min() < grid[0]:
        grid = grid.union(sessions_between(frame["date"].min(), grid[0], calendar))
    frame = frame[frame["date"].isin(grid)].reset_index(drop=True)
    split_flag, _, _ = _split_flags(frame, SPLIT_FACTORS, split_tolerance)

    names = pd.Index(pd.unique(frame["symbol"]), dtype=object)
    s_idx = names.get_indexer(frame["symbol"])
    t_idx = grid.searchsorted(frame["date"].to_numpy())
    n_t, n_s = len(grid), len(names)
    close = np.full((n_t, n_s), np.nan)
    close[t_idx, s_idx] = np.where(_valid_close(frame["close"]), frame["close"].to_numpy(), np.nan)
    has_row = np.zeros((n_t, n_s), dtype=bool)
    has_row[t_idx, s_idx] = _valid_close(frame["close"])
    in_window = np.zeros((n_t, n_s), dtype=bool)
    in_window[t_idx, s_idx] = frame["in_window"].to_numpy()
    split = np.zeros((n_t, n_s), dtype=bool)
    split[t_idx, s_idx] = split_flag

    filled = pd.DataFrame(close).ffill(limit=max_forward_fill_days).to_numpy() if max_forward_fill_days > 0 else close
    prev = np.vstack([np.full((1, n_s), np.nan), filled[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(has_row, filled / prev - 1.0, np.nan)
    ret_ref = np.where(split, np.nan, ret)  # a split is no reference for ordinary days
    rows_needed = in_window.any(axis=1)
    rows_needed[:-1] |= rows_needed[1:]  # and the session before: a spike there excuses its reversion
    z, _, _ = past_robust_z(ret_ref, window=window, min_periods=min_periods, rows=rows_needed)

    with np.errstate(invalid="ignore"):
        cap = (ret > max_daily_return) | (ret < lower)
        zflag = np.abs(z) > z_threshold
    flagged = (cap | zflag) & ~split & np.isfinite(ret)
    # The session after a flagged spike that brings the price back is not an outlier itself.
    prev2 = np.vstack([np.full((2, n_s), np.nan), filled[:-2]]) if n_t >= 2 else np.full((n_t, n_s), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        move_prev = np.abs(np.log(prev / prev2))
        move_two = np.abs(np.log(filled / prev2))
    flagged_prev = np.vstack([np.zeros((1, n_s), dtype=bool), flagged[:-1]])
    reversion = flagged & flagged_prev & (move_two < move_prev / 2)
    flagged &= ~reversion

    evaluated = in_window & np.isfinite(ret) & ~split
    bad = flagged & in_window
    bad_cap = bad & cap
    bad_z = bad & ~cap
    details = {
        "beyond_cap": int(bad_cap.sum()),
        "robust_z_only": int(bad_z.sum()),
        "reversions_excused": int((reversion & in_window).sum()),
        "splits_excused": int((split & in_window).sum()),
    }
    et, es = np.nonzero(evaluated)

    def outcome(name: str, mask: np.ndarray, reason_of, observed: float, threshold: float, description: str, extra: dict) -> CheckOutcome:
        severity = severity_of(name)
        bt, bs = np.nonzero(mask)
        r_bad, z_bad = ret[bt, bs], z[bt, bs]
        off = _offending(names.to_numpy()[bs], grid.to_numpy()[bt], r_bad, reason_of(r_bad, z_bad), severity)
        off["z"] = z_bad
        off = off.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
        return _outcome(name, off, severity=severity, observed=observed, threshold=threshold, description=description,
                        per_symbol=_pass_rates(es, names.to_numpy(), mask[et, es]), evaluated=int(evaluated.sum()),
                        details={**details, **extra})

    # The observed move leaves out the excused ones (a bad print's reversion, splits): they are
    # not findings, and an override of the print must leave an observed figure inside the cap.
    counted = evaluated & ~reversion
    abs_ret = np.abs(np.where(counted, ret, np.nan))
    with np.errstate(invalid="ignore"):
        max_abs = float(np.nanmax(abs_ret)) if counted.any() else 0.0
        calm = abs_ret[counted & ~bad_cap]
        max_calm = float(np.nanmax(calm)) if len(calm) else 0.0
        z_eval = np.abs(np.where(evaluated & ~bad_cap, z, np.nan))
        max_z = float(np.nanmax(z_eval)) if np.isfinite(z_eval).any() else 0.0
    cap_outcome = outcome(
        "return_cap", bad_cap,
        lambda r, _z: pd.Series(r).map(lambda v: f"return {v:+.1%} beyond the cap").to_numpy(dtype=object),
        max_abs, max_daily_return, cap_text, {"max_abs_not_offending": max_calm},
    )
    z_outcome = outcome(
        "robust_z", bad_z,
        lambda _r, zs: pd.Series(zs).map(lambda v: f"robust z {v:+.1f} beyond {z_threshold:g}").to_numpy(dtype=object),
        float(bad_z.sum()), 0, z_text + f" (largest |z| {max_z:.1f})", {"max_abs_z": max_z},
    )
    return cap_outcome, z_outcome


def check_return_cap(prices: pd.DataFrame, history: pd.DataFrame | None = None, max_daily_return: float = 0.5, **kwargs) -> CheckOutcome:
    """Daily returns beyond ``max_daily_return`` (see :func:`check_returns`). ERROR, blocking."""
    return check_returns(prices, history, max_daily_return, **kwargs)[0]


def check_robust_z(prices: pd.DataFrame, history: pd.DataFrame | None = None, max_daily_return: float = 0.5, **kwargs) -> CheckOutcome:
    """Robust z-scores above the threshold inside the cap (see :func:`check_returns`). WARN."""
    return check_returns(prices, history, max_daily_return, **kwargs)[1]

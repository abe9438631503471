"""Price checks computed in pandas/NumPy: completeness, staleness, reconciliation.

(The row rules - OHLC validity, positive prices, duplicates - are Great Expectations
expectations in ``services/gx.py``; returns, robust z and probable splits are in
:mod:`.returns`.) Severities come from :mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, DateLike, sessions_between
from autoindex_pipeline.domain.quality.frames import _active_bounds, _listing_lookup, _prices, _sessions, _valid_close
from autoindex_pipeline.domain.quality.outcome import CheckOutcome, _empty_offending, _offending, _outcome, _pass_rates
from autoindex_pipeline.domain.quality.rules import severity_of


def check_completeness(
    prices: pd.DataFrame,
    sessions: pd.DatetimeIndex,
    min_ratio: float = 0.98,
    listing: pd.DataFrame | None = None,
    *,
    symbols: Sequence[str] | None = None,
    period: str | None = "M",
) -> CheckOutcome:
    """Valid closes / expected sessions, per symbol and calendar ``period``, >= ``min_ratio``.

    Active range: see :func:`_active_bounds`. Without ``symbols`` a symbol is expected from its
    first to its last row in the window (so a stock listed or delisted mid-window is not
    penalised, and neither is a feed that silently stopped: :func:`check_staleness` catches
    that). With ``symbols`` (the universe) each symbol is expected on every session of the
    window, which is what a one-session partition needs to see a symbol with no row at all.
    ``listing`` (symbol, listed, delisted) overrides either end with known dates.

    Why per calendar month (``period="M"``, the default): over a whole year a 5-session halt
    is 247/252 = 0.9802 and 3 missing days 249/252 = 0.988, both >= 0.98, so a window-wide
    ratio would pass the very faults the check exists for, and its verdict would depend on how
    long the run's window is. Per month (19-23 sessions) one missing session already gives at
    most 22/23 = 0.957 < 0.98, the same verdict whether the sessions are checked one partition
    at a time or in a five-year backfill. ``period=None`` measures the whole window instead.

    A close that is missing, NaN or <= 0 is not valid. Offending rows: every expected session
    without a valid close in a (symbol, period) below ``min_ratio`` (value: the close if a row
    exists, else NaN). Pass rate per symbol: valid / expected over the window. Observed: the
    worst (symbol, period) ratio. ``details``: ``per_symbol`` (symbol, first_date, last_date,
    expected, valid, completeness, worst_period, worst_ratio) and ``per_session`` (date,
    expected, present, ratio) - the completeness of each partition across symbols.
    """
    severity = severity_of("completeness")
    frame = _prices(prices, ("symbol", "date", "close"))
    sessions = _sessions(sessions, frame)
    names, lo, hi = _active_bounds(frame, sessions, listing, symbols)
    n_sess, n_sym = len(sessions), len(names)
    description = f"valid closes / expected sessions per symbol and {'calendar ' + period if period else 'window'} >= {min_ratio}"
    if n_sess == 0 or n_sym == 0:
        return _outcome("completeness", _empty_offending(), severity=severity, observed=1.0, threshold=min_ratio, description=description)

    in_sessions = frame["date"].isin(sessions).to_numpy()
    sub = frame.loc[in_sessions]
    sym_code = names.get_indexer(sub["symbol"])
    pos = sessions.searchsorted(sub["date"].to_numpy())
    known = sym_code >= 0
    sym_code, pos = sym_code[known], pos[known]
    close = sub["close"].to_numpy()[known]
    valid = _valid_close(close)

    present = np.zeros((n_sess, n_sym), dtype=bool)
    present[pos[valid], sym_code[valid]] = True
    row_close = np.full((n_sess, n_sym), np.nan)
    row_close[pos, sym_code] = close  # the close of a row that exists but is not valid
    has_row = np.zeros((n_sess, n_sym), dtype=bool)
    has_row[pos, sym_code] = True

    t = np.arange(n_sess)[:, None]
    active = (t >= lo[None, :]) & (t <= hi[None, :])
    expected_sym = active.sum(axis=0)
    valid_sym = (present & active).sum(axis=0)

    if period:
        bucket_codes, bucket_labels = pd.factorize(sessions.to_period(period))
    else:
        bucket_codes, bucket_labels = np.zeros(n_sess, dtype=np.int64), pd.Index(["window"])
    n_b = len(bucket_labels)
    onehot = np.zeros((n_b, n_sess))
    onehot[bucket_codes, np.arange(n_sess)] = 1.0
    expected_b = onehot @ active.astype(float)  # (buckets, symbols)
    valid_b = onehot @ (present & active).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio_b = np.where(expected_b > 0, valid_b / np.where(expected_b > 0, expected_b, 1.0), np.nan)
    failing_b = ratio_b < min_ratio  # NaN compares False

    missing = active & ~present & failing_b[bucket_codes, :]
    t_idx, s_idx = np.nonzero(missing)
    values = row_close[t_idx, s_idx]
    reason = np.where(
        has_row[t_idx, s_idx],
        "close missing or not positive",
        "no row",
    )
    ratio_txt = ratio_b[bucket_codes[t_idx], s_idx]
    period_txt = np.asarray(bucket_labels.astype(str))[bucket_codes[t_idx]] if len(t_idx) else np.array([], dtype=object)
    reason = pd.Series(reason, dtype=object) + " (" + pd.Series(period_txt, dtype=object) + " at " + pd.Series(ratio_txt).map("{:.3f}".format) + ")"
    off = _offending(names.to_numpy()[s_idx], sessions.to_numpy()[t_idx], values, reason.to_numpy(), severity)
    off = off.sort_values(["symbol", "date"], kind="stable")

    expected_ok = expected_sym > 0
    rates = pd.Series(valid_sym[expected_ok] / expected_sym[expected_ok], index=pd.Index(names[expected_ok], name="symbol", dtype=object), name="pass_rate")
    worst_b = np.where(np.isnan(ratio_b), np.inf, ratio_b)
    worst_idx = worst_b.argmin(axis=0)
    worst_ratio = np.where(expected_ok, worst_b[worst_idx, np.arange(n_sym)], np.nan)
    per_symbol = pd.DataFrame(
        {
            "symbol": names.to_numpy(),
            "first_date": np.where(expected_ok, sessions.to_numpy()[np.clip(lo, 0, n_sess - 1)], np.datetime64("NaT")),
            "last_date": np.where(expected_ok, sessions.to_numpy()[np.clip(hi, 0, n_sess - 1)], np.datetime64("NaT")),
            "expected": expected_sym,
            "valid": valid_sym,
            "completeness": np.where(expected_ok, valid_sym / np.maximum(expected_sym, 1), np.nan),
            "worst_period": np.asarray(bucket_labels.astype(str), dtype=object)[worst_idx],
            "worst_ratio": worst_ratio,
        }
    )
    per_symbol = per_symbol[expected_ok].reset_index(drop=True)
    exp_t = active.sum(axis=1)
    pres_t = (present & active).sum(axis=1)
    per_session = pd.DataFrame(
        {"date": sessions.to_numpy(), "expected": exp_t, "present": pres_t, "ratio": np.where(exp_t > 0, pres_t / np.maximum(exp_t, 1), np.nan)}
    )
    observed = float(np.nanmin(worst_ratio)) if expected_ok.any() else 1.0
    return _outcome(
        "completeness",
        off,
        severity=severity,
        observed=observed,
        threshold=min_ratio,
        description=description,
        per_symbol=rates,
        evaluated=int(expected_sym.sum()),
        details={
            "per_symbol": per_symbol,
            "per_session": per_session,
            "missing_tolerated": int((active & ~present).sum() - missing.sum()),
            "period": period,
        },
    )




def check_staleness(
    prices: pd.DataFrame,
    as_of_session: DateLike,
    max_sessions: int = 1,
    sessions: pd.DatetimeIndex | None = None,
    *,
    symbols: Sequence[str] | None = None,
    listing: pd.DataFrame | None = None,
    calendar: str = DEFAULT_CALENDAR,
) -> CheckOutcome:
    """Each symbol's newest valid close is at most ``max_sessions`` sessions before ``as_of``.

    Age = sessions between the newest close and ``as_of_session`` (0 when it is that session);
    stale when age > ``max_sessions`` (the config's ``stale_after_sessions``, default 1). With
    ``symbols`` (the universe), a symbol without any valid close is stale too. ``listing``
    (symbol, listed, delisted): a symbol delisted before ``as_of`` is measured against its
    delisting session instead (so a feed that stopped before the delisting is still caught,
    while the delisting itself is not), and a symbol listed after ``as_of`` is not expected.
    One unit per symbol; offending value: the age in sessions (NaN without any close). WARN
    (the ``stale_prices`` alert sensor acts on it).
    """
    as_of = pd.Timestamp(as_of_session).normalize()
    frame = _prices(prices, ("symbol", "date", "close"))
    frame = frame[(frame["date"] <= as_of) & _valid_close(frame["close"])]
    newest = frame.groupby("symbol", sort=True)["date"].max()
    names = pd.Index(list(dict.fromkeys(map(str, symbols))) if symbols is not None else newest.index, dtype=object)
    newest = newest.reindex(names)
    first = min(newest.min(), as_of) if newest.notna().any() else as_of
    grid = sessions_between(first, as_of, calendar)
    if sessions is not None:
        grid = grid.union(_sessions(sessions))
    listed, delisted = _listing_lookup(listing, list(names))
    reference = pd.Series(as_of, index=names)
    gone = delisted.notna() & (delisted < as_of)
    reference[gone] = delisted[gone]
    expected = ~(listed.notna() & (listed > as_of))
    ref_pos = grid.searchsorted(reference.to_numpy(), side="right") - 1
    new_pos = np.where(newest.notna(), grid.searchsorted(newest.fillna(as_of).to_numpy(), side="right") - 1, -1)
    age = np.where(newest.notna(), ref_pos - new_pos, np.nan).astype(float)
    stale = expected.to_numpy() & (np.isnan(age) | (age > max_sessions))
    reason = np.where(
        np.isnan(age[stale]),
        "no close at all",
        pd.Series(age[stale]).map(lambda a: f"newest close {a:.0f} sessions old").to_numpy(dtype=object)
        + pd.Series(reference.to_numpy()[stale]).map(lambda d: f" at {pd.Timestamp(d).date()}").to_numpy(dtype=object),
    )
    off = _offending(names.to_numpy()[stale], newest.to_numpy()[stale], age[stale], reason, severity_of("staleness"))
    ev = expected.to_numpy()
    rates = pd.Series(np.where(stale, 0.0, 1.0)[ev], index=pd.Index(names[ev], name="symbol"), name="pass_rate")
    finite_age = age[ev & ~np.isnan(age)]
    return _outcome(
        "staleness",
        off,
        severity=severity_of("staleness"),
        observed=float(finite_age.max()) if len(finite_age) else (float("inf") if stale.any() else 0.0),
        threshold=max_sessions,
        description=f"newest close at most {max_sessions} session(s) before {as_of.date()}",
        per_symbol=rates,
        evaluated=int(ev.sum()),
        scope="symbol",
        details={"as_of": as_of, "newest": newest},
    )


def check_reconciliation(
    primary: pd.DataFrame,
    secondary: pd.DataFrame,
    sample_size: int | None = 100,
    tolerance: float = 0.002,
    seed: int = 0,
    *,
    max_mismatch_share: float = 0.0,
) -> CheckOutcome:
    """A deterministic sample of primary closes compared with a second source.

    "Mismatch above 0.2% is a failure" is read per close: a sampled close whose relative
    difference ``|p - s| / |s|`` exceeds ``tolerance`` (0.002) is a mismatch, and the check
    fails when the share of mismatching compared closes exceeds ``max_mismatch_share``
    (default 0: any mismatch fails). The sample is the ``sample_size`` (symbol, date) keys of
    the primary's valid closes with the smallest hash of (seed, symbol, date): the same keys
    whatever the row order, and ``sample_size=None`` compares every close. A key the second
    source lacks is not compared (counted in ``details``); if nothing at all could be compared
    the check fails. Offending value: the relative difference. ERROR.
    """
    description = f"sampled closes within {tolerance:.2%} of the second source"
    severity = severity_of("reconciliation")
    p = _prices(primary, ("symbol", "date", "close"))
    p = p[_valid_close(p["close"])].drop_duplicates(["symbol", "date"], keep="last")
    if p.empty:
        return _outcome("reconciliation", _empty_offending(), severity=severity, observed=0.0, threshold=tolerance, description=description, scope="row")
    key = f"{seed:016d}"[-16:]
    hashes = pd.util.hash_pandas_object(p.loc[:, ["symbol", "date"]], index=False, hash_key=key).to_numpy()
    order = np.argsort(hashes, kind="stable")
    chosen = p.iloc[order if sample_size is None else order[: int(sample_size)]]
    s = _prices(secondary, ("symbol", "date", "close")).drop_duplicates(["symbol", "date"], keep="last")
    merged = chosen.merge(s.rename(columns={"close": "secondary"}), on=["symbol", "date"], how="left")
    compared = merged["secondary"].notna().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(merged["close"].to_numpy() - merged["secondary"].to_numpy()) / np.abs(merged["secondary"].to_numpy())
    mismatch = compared & ~(rel <= tolerance)
    n_cmp = int(compared.sum())
    share = float(mismatch.sum() / n_cmp) if n_cmp else float("nan")
    if n_cmp == 0:
        off = _offending(merged["symbol"], merged["date"], np.nan, "no close in the second source to compare", severity)
        return _outcome(
            "reconciliation", off, severity=severity, observed=float("nan"), threshold=tolerance, description=description,
            evaluated=0, details={"sampled": len(merged), "compared": 0, "not_in_secondary": len(merged)}, passed=False,
        )
    failed = share > max_mismatch_share
    m = merged[mismatch]
    reason = [f"primary {a:.6g} vs second source {b:.6g} ({a / b - 1:+.2%})" for a, b in zip(m["close"], m["secondary"])]
    off = _offending(m["symbol"], m["date"], rel[mismatch], reason, severity) if failed else _empty_offending()
    codes, uniques = pd.factorize(merged["symbol"])
    return _outcome(
        "reconciliation",
        off,
        severity=severity,
        observed=share,
        threshold=tolerance,
        description=description + (f", at most {max_mismatch_share:.2%} mismatching" if max_mismatch_share else ", none mismatching"),
        per_symbol=_pass_rates(codes, uniques, mismatch, compared),
        evaluated=n_cmp,
        details={
            "sampled": len(merged),
            "compared": n_cmp,
            "not_in_secondary": int((~compared).sum()),
            "mismatches": int(mismatch.sum()),
            "max_relative_difference": float(np.nanmax(rel)) if n_cmp else float("nan"),
        },
    )



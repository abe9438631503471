"""Which sessions a refresh should fetch (the old system's smart / full / targeted modes), and
what a catch-up after downtime must fetch, symbol by symbol, inside a credit budget.

Pure: given the sessions of a range and what the warehouse holds for them, say which ranges to
re-fetch. The Dagster layer turns each range into one single-run partition backfill.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RefreshRange:
    start: pd.Timestamp
    end: pd.Timestamp
    sessions: int
    reason: str


def contiguous_ranges(selected: pd.DatetimeIndex, sessions: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Group ``selected`` sessions into runs that are contiguous in ``sessions`` order."""
    if selected.empty:
        return []
    positions = sessions.get_indexer(selected)
    if (positions < 0).any():
        raise ValueError("selected dates must all be sessions")
    positions.sort()
    breaks = pd.Series(positions).diff().ne(1).cumsum()
    out = []
    for _, group in pd.Series(positions).groupby(breaks.values):
        out.append((sessions[group.iloc[0]], sessions[group.iloc[-1]], len(group)))
    return out


def smart_refresh_plan(
    sessions: pd.DatetimeIndex,
    coverage: pd.DataFrame,
    expected_symbols: int,
    min_symbol_coverage: float,
    session_closes_utc: pd.Series,
) -> list[RefreshRange]:
    """Sessions that are missing (no row), incomplete (fewer than ``min_symbol_coverage`` x
    ``expected_symbols`` symbols) or premature (first row ingested before that session's close,
    so it may hold an intraday print), grouped into contiguous ranges.

    ``coverage`` has columns date, symbols, first_ingested_at (see warehouse.read.price_coverage);
    ``session_closes_utc`` is indexed by session.
    """
    sessions = pd.DatetimeIndex(sessions)
    held = coverage.set_index("date").reindex(sessions)
    missing = held["symbols"].isna()
    incomplete = ~missing & (held["symbols"] < min_symbol_coverage * expected_symbols)
    closes = pd.to_datetime(session_closes_utc.reindex(sessions), utc=True)
    premature = ~missing & (pd.to_datetime(held["first_ingested_at"], utc=True) < closes)
    reason = pd.Series("", index=sessions)
    reason[premature.to_numpy()] = "premature"
    reason[incomplete.to_numpy()] = "incomplete"
    reason[missing.to_numpy()] = "missing"
    flagged = reason[reason != ""]
    plan = []
    for start, end, count in contiguous_ranges(pd.DatetimeIndex(flagged.index), sessions):
        reasons = sorted(set(flagged.loc[start:end]))
        plan.append(RefreshRange(start, end, count, "+".join(reasons)))
    return plan


# ------------------------------------------------------------------------------------------------
# Catch-up: per-symbol holes, whole missing or premature sessions, fetch requests in a budget

# One request of a daily series covers at most this many calendar days (TwelveData's outputsize
# of 5000 bars); a longer range is fetched, and paid for, once per window.
WINDOW_DAYS = 4999
WHOLE_MISSING, PREMATURE, SYMBOL_HOLES = "missing", "premature", "symbol_holes"


@dataclass(frozen=True)
class FetchRequest:
    """Fetch ``symbols`` (None: the whole universe) over the contiguous sessions start..end."""

    start: pd.Timestamp
    end: pd.Timestamp
    sessions: int
    symbols: tuple[str, ...] | None
    credits: int
    reason: str

    @property
    def run_key(self) -> str:
        """Stable for the same work (range and symbols), whichever tick plans it."""
        who = "all" if self.symbols is None else f"{len(self.symbols)}-" + hashlib.sha1(
            ",".join(self.symbols).encode()).hexdigest()[:12]
        return f"catch-up-{self.start:%Y-%m-%d}-{self.end:%Y-%m-%d}-{who}"


@dataclass(frozen=True)
class CatchUpPlan:
    requests: tuple[FetchRequest, ...]
    """What fits the credit budget, oldest first."""
    deferred: tuple[FetchRequest, ...]
    """What did not fit; a later tick plans it again."""
    holes: dict[str, pd.DatetimeIndex]
    """Per symbol, the sessions missing inside its active range (whole sessions included)."""
    whole_sessions: pd.DatetimeIndex
    """Sessions re-fetched for every active symbol: missing for all of them, or premature."""

    @property
    def complete(self) -> bool:
        return not self.requests and not self.deferred


def request_credits(symbols: int, start: pd.Timestamp, end: pd.Timestamp) -> int:
    """Credits of one request on a per-symbol plan (TwelveData: one per symbol per window)."""
    windows = -(-((end - start).days + 1) // WINDOW_DAYS)
    return symbols * max(windows, 1)


def active_sessions(
    sessions: pd.DatetimeIndex, begin: pd.Timestamp, absences: pd.DataFrame | None = None
) -> pd.DatetimeIndex:
    """The sessions from ``begin`` on, minus the recorded absences (``date_from``..``date_to``,
    open-ended when ``date_to`` is missing: a delisting ends the range, a halt cuts it)."""
    active = sessions[sessions >= begin]
    if absences is not None:
        for date_from, date_to in zip(absences["date_from"], absences["date_to"]):
            cut = active >= pd.Timestamp(date_from)
            if pd.notna(date_to):
                cut &= active <= pd.Timestamp(date_to)
            active = active[~cut]
    return active


def symbol_holes(
    sessions: pd.DatetimeIndex,
    symbols: Sequence[str],
    first_closes: pd.Series,
    held: pd.DataFrame,
    absences: pd.DataFrame,
    known_complete: Collection[str] = (),
) -> tuple[dict[str, pd.DatetimeIndex], dict[str, pd.DatetimeIndex]]:
    """(active sessions, missing sessions) per symbol.

    A symbol is active from its first stored close (``first_closes``, NaT for a symbol never
    fetched: then from the first of ``sessions``, the configured start) to the last session,
    minus its ``absences`` (symbol, date_from, date_to). ``held``: symbol, date of the stored
    closes of every symbol not in ``known_complete`` (which the caller found to hold every
    active session, so they are not read row by row)."""
    sessions = pd.DatetimeIndex(sessions)
    stored = {s: pd.DatetimeIndex(g) for s, g in held.groupby("symbol")["date"]} if len(held) else {}
    by_symbol = {s: g for s, g in absences.groupby("symbol")} if len(absences) else {}
    active: dict[str, pd.DatetimeIndex] = {}
    missing: dict[str, pd.DatetimeIndex] = {}
    for symbol in symbols:
        first = first_closes.get(symbol, pd.NaT)
        begin = max(pd.Timestamp(first), sessions[0]) if pd.notna(first) else sessions[0]
        active[symbol] = active_sessions(sessions, begin, by_symbol.get(symbol))
        if symbol in known_complete:
            missing[symbol] = sessions[:0]
        else:
            missing[symbol] = active[symbol].difference(stored.get(symbol, sessions[:0]))
    return active, missing


def _allot(requests: list[FetchRequest], budget: int | None, universe: Sequence[str]) -> tuple[list, list]:
    """Take requests in order while they fit ``budget``; the first that does not is split by
    symbols (the part that fits goes now), the rest waits."""
    if budget is None:
        return requests, []
    taken: list[FetchRequest] = []
    deferred: list[FetchRequest] = []
    left = budget
    for request in requests:
        if request.credits <= left:
            taken.append(request)
            left -= request.credits
            continue
        symbols = list(request.symbols or universe)
        per_symbol = request_credits(1, request.start, request.end)
        fits = left // per_symbol
        if fits:
            now, later = tuple(symbols[:fits]), tuple(symbols[fits:])
            taken.append(FetchRequest(request.start, request.end, request.sessions, now, fits * per_symbol, request.reason))
            request = FetchRequest(request.start, request.end, request.sessions, later,
                                   len(later) * per_symbol, request.reason)
            left -= fits * per_symbol
        deferred.append(request)
    return taken, deferred


def catch_up_plan(
    sessions: pd.DatetimeIndex,
    symbols: Sequence[str],
    first_closes: pd.Series,
    held: pd.DataFrame,
    absences: pd.DataFrame,
    session_first_ingested: pd.Series,
    session_closes_utc: pd.Series,
    credit_budget: int | None = None,
    known_complete: Collection[str] = (),
) -> CatchUpPlan:
    """What the warehouse lacks over ``sessions`` (the configured start to the last closed
    session), as fetch requests that fit ``credit_budget`` (None: no limit).

    * whole sessions: missing for every symbol active on them, or premature (their first row was
      ingested before that session's close, ``session_first_ingested`` vs
      ``session_closes_utc``, so it may hold an intraday print): one request per contiguous
      range, for the symbols active on it (None when that is the whole universe);
    * symbol holes: the other sessions a symbol lacks inside its active range (see
      :func:`symbol_holes`); symbols with the same contiguous range share one request.

    A session before a symbol's first close, after its delisting or inside a recorded halt is
    never a hole, so a universe of 512 live symbols and one delisted is complete."""
    sessions = pd.DatetimeIndex(sessions)
    if sessions.empty:
        return CatchUpPlan((), (), {}, sessions)
    active, missing = symbol_holes(sessions, symbols, first_closes, held, absences, known_complete)
    n_active = pd.Series(0, index=sessions)
    n_missing = pd.Series(0, index=sessions)
    for symbol in symbols:
        n_active[active[symbol]] += 1
        n_missing[missing[symbol]] += 1
    whole_missing = (n_active > 0) & (n_missing == n_active)
    ingested = pd.to_datetime(session_first_ingested.reindex(sessions), utc=True)
    closes = pd.to_datetime(session_closes_utc.reindex(sessions), utc=True)
    premature = ingested.notna() & (ingested < closes) & (n_active > 0)
    reason = pd.Series("", index=sessions)
    reason[premature.to_numpy()] = PREMATURE
    reason[whole_missing.to_numpy()] = WHOLE_MISSING
    whole = pd.DatetimeIndex(reason.index[reason != ""])

    requests: list[FetchRequest] = []
    for start, end, count in contiguous_ranges(whole, sessions):
        wanted = tuple(s for s in symbols if ((active[s] >= start) & (active[s] <= end)).any())
        reasons = "+".join(sorted(set(reason.loc[start:end]) - {""}))
        requests.append(FetchRequest(start, end, count, None if len(wanted) == len(symbols) else wanted,
                                     request_credits(len(wanted), start, end), reasons))
    groups: dict[tuple[pd.Timestamp, pd.Timestamp, int], list[str]] = {}
    for symbol in symbols:
        for start, end, count in contiguous_ranges(missing[symbol].difference(whole), sessions):
            groups.setdefault((start, end, count), []).append(symbol)
    for (start, end, count), members in groups.items():
        requests.append(FetchRequest(start, end, count, tuple(members), request_credits(len(members), start, end),
                                     SYMBOL_HOLES))
    # Oldest first: the index extends from its stored state, so history is filled in order.
    requests.sort(key=lambda r: (r.start, r.end, r.symbols is not None, r.symbols or ()))
    taken, deferred = _allot(requests, credit_budget, symbols)
    holes = {s: m for s, m in missing.items() if len(m)}
    return CatchUpPlan(tuple(taken), tuple(deferred), holes, whole)


# ------------------------------------------------------------------------------------------------
# Shares outstanding: their own, slower cadence inside a credit budget


def stale_shares(symbols: Sequence[str], known_from: pd.Series, as_of: pd.Timestamp, max_age_days: int) -> list[str]:
    """Symbols whose newest shares figure is older than ``max_age_days`` at ``as_of`` (or
    missing), stalest first: never-fetched ones, then by age, then by name."""
    as_of = pd.Timestamp(as_of)
    dates = pd.to_datetime(pd.Series({s: known_from.get(s, pd.NaT) for s in symbols}, dtype="datetime64[ns]"))
    stale = dates[dates.isna() | (dates < as_of - pd.Timedelta(days=max_age_days))]
    order = pd.DataFrame({"symbol": stale.index, "missing": stale.isna().to_numpy(), "date": stale.to_numpy()})
    order = order.sort_values(["missing", "date", "symbol"], ascending=[False, True, True], na_position="first")
    return order["symbol"].tolist()

"""Which sessions a refresh should fetch (the old system's smart / full / targeted modes).

Pure: given the sessions of a range and what the warehouse holds for them, say which ranges to
re-fetch. The Dagster layer turns each range into one single-run partition backfill.
"""

from __future__ import annotations

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

"""Which sessions the index may use: a session is complete when every constituent has a close
or a known reason not to (methodology, "complete sessions only"). Pure; no I/O.

Known reasons a constituent has no valid close on session D:

- it is not listed yet: no valid close on or before D anywhere in the stored history;
- a recorded absence covers D (a trading halt, a delisting from its date on; audited rows of
  ``price_absences``);
- an audited ``exclude`` override names (symbol, D): the close is known to be wrong and the
  methodology treats it as missing.

Anything else (the provider did not deliver it, a delivery was refused by a blocking check) leaves
D incomplete. Completeness is judged against the universe, never against the rows a run wrote.

Holding is for the frontier, where late data can still arrive (the catch-up re-fetches it): only
the newest ``hold_sessions`` stored sessions can hold the index, and a constituent counts as
expected on D only when it had a valid close on one of the ``hold_sessions`` sessions before D
(or on D). An older gap is history: the methodology's forward fill applies and the gap is
reported, not waited for; a constituent silent for longer (delisted without a recorded absence)
stops holding anything. ``hold_sessions=None`` waits for every gap of the window.

A close refused by a blocking check (an open verdict) is different: it is a known problem that
needs a person, so it holds whatever its age, until a delivery of that row passes or an audited
override settles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING_COLUMNS = ("date", "symbol")


@dataclass(frozen=True)
class GateVerdict:
    """What the index may use of a window of sessions."""

    last_complete: pd.Timestamp | None
    """The last session of the window before the first incomplete one (None: the window's first
    session is already incomplete, or the window is empty)."""
    held: pd.DatetimeIndex
    """Sessions of the window from the first incomplete one on: the index waits for them."""
    missing: pd.DataFrame
    """(date, symbol) of every unaccounted close in the window, sorted."""

    @property
    def holds(self) -> bool:
        return len(self.held) > 0

    @property
    def first_held_symbols(self) -> list[str]:
        """The constituents whose close the first held session lacks."""
        if not self.holds:
            return []
        return sorted(self.missing.loc[self.missing["date"] == self.held[0], "symbol"].astype(str))

    def describe(self, limit: int = 5) -> str:
        """One line a person can read: which sessions wait, for which closes."""
        if not self.holds:
            return "every session complete"
        first = self.missing[self.missing["date"] == self.held[0]]
        names = ", ".join(first["symbol"].head(limit))
        more = f" and {len(first) - limit} more" if len(first) > limit else ""
        span = f"{self.held[0].date()}" + (f" .. {self.held[-1].date()}" if len(self.held) > 1 else "")
        return (
            f"{len(self.held)} session(s) held ({span}): {self.held[0].date()} lacks the close of "
            f"{names}{more}; {len(self.missing)} close(s) missing in all"
        )


def unaccounted_closes(
    raw_closes: pd.DataFrame,
    first_close: pd.Series,
    absences: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    recent_sessions: int | None = None,
) -> pd.DataFrame:
    """(date, symbol) cells of ``raw_closes`` (sessions x expected symbols, raw stored closes,
    NaN where no row) with no valid close and no known reason.

    ``first_close``: symbol -> first session with a valid stored close anywhere in the history
    (NaT: never). ``absences``: symbol, date_from, date_to (NaT = open-ended), inclusive.
    ``excluded``: symbol, date of audited ``exclude`` overrides. ``recent_sessions``: a symbol
    is expected on D only if it has a valid close among the rows of ``raw_closes`` within that
    many sessions before D (None: always, once listed).
    """
    sessions = pd.DatetimeIndex(raw_closes.index)
    symbols = pd.Index(raw_closes.columns, dtype=object)
    values = raw_closes.to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        valid = np.isfinite(values) & (values > 0)
    first = pd.to_datetime(first_close.reindex(symbols)).to_numpy(dtype="datetime64[ns]")
    t = sessions.to_numpy(dtype="datetime64[ns]")[:, None]
    listed = ~np.isnat(first)[None, :] & (t >= first[None, :])
    known = np.zeros_like(valid)
    if absences is not None and len(absences):
        cols = symbols.get_indexer(absences["symbol"].astype(str))
        lo = pd.to_datetime(absences["date_from"]).to_numpy(dtype="datetime64[ns]")
        hi = pd.to_datetime(absences["date_to"]).to_numpy(dtype="datetime64[ns]")
        for col, start, end in zip(cols, lo, hi):
            if col < 0:
                continue
            covered = t[:, 0] >= start
            if not np.isnat(end):
                covered &= t[:, 0] <= end
            known[:, col] |= covered
    if excluded is not None and len(excluded):
        cols = symbols.get_indexer(excluded["symbol"].astype(str))
        rows = sessions.get_indexer(pd.to_datetime(excluded["date"]))
        keep = (cols >= 0) & (rows >= 0)
        known[rows[keep], cols[keep]] = True
    gap = listed & ~valid & ~known
    if recent_sessions is not None:
        # Valid closes among the `recent_sessions` rows before each row (a cumulative count).
        cum = np.vstack([np.zeros((1, valid.shape[1])), np.cumsum(valid, axis=0)])
        rows = np.arange(len(sessions))
        lo = np.maximum(rows - recent_sessions, 0)
        gap &= (cum[rows] - cum[lo])[:, :] > 0
    r, c = np.nonzero(gap)
    out = pd.DataFrame({"date": sessions[r], "symbol": symbols.to_numpy()[c]})
    return out.sort_values(["date", "symbol"], ignore_index=True)


def gate(
    sessions: pd.DatetimeIndex,
    missing: pd.DataFrame,
    frontier: pd.Timestamp | None = None,
    flagged: pd.DataFrame | None = None,
) -> GateVerdict:
    """The window's verdict: complete up to the session before the first one with a missing
    close; that session and every later one are held (an index is a path: it cannot skip a day).
    Only missing closes on or after ``frontier`` (the first of the newest sessions that may still
    receive late data) hold, and those named in ``flagged`` (symbol, date of open blocking
    verdicts) whatever their age; the others are reported in ``missing`` but published."""
    sessions = pd.DatetimeIndex(sessions)
    holding = missing
    if frontier is not None:
        recent = missing["date"] >= pd.Timestamp(frontier)
        if flagged is not None and len(flagged):
            keys = pd.MultiIndex.from_arrays([flagged["symbol"].astype(str), pd.to_datetime(flagged["date"])])
            recent |= pd.MultiIndex.from_arrays([missing["symbol"].astype(str), pd.to_datetime(missing["date"])]).isin(keys)
        holding = missing[recent]
    if holding.empty or sessions.empty:
        return GateVerdict(sessions[-1] if len(sessions) else None, sessions[:0], missing.reset_index(drop=True))
    first_bad = pd.Timestamp(holding["date"].min())
    held = sessions[sessions >= first_bad]
    before = sessions[sessions < first_bad]
    return GateVerdict(before[-1] if len(before) else None, held, missing.reset_index(drop=True))

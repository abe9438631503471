"""The deliberate faults of the sample price provider: which symbol carries which, and when.

:class:`SampleFaults` is the configuration; :class:`FaultCalendar` turns it into session
indices on the provider's calendar (and lists them as events). The generator in
:mod:`autoindex_pipeline.providers.prices.sample` applies them to the series.

So that the data-quality checks (domain spec section 10) have something to find, a few symbols
carry documented faults (:class:`SampleFaults`, every field configurable, ``SampleFaults.none()``
for a clean universe). Each symbol carries at most one fault; every other symbol is clean (no NaN,
no OHLC violation, ``|daily return| < 0.5``, no duplicate). A fault whose symbol is not in the
universe is simply inactive. Recurring faults fire every calendar year, on the first session on
or after the given month-day, so any range of a year or more contains them; listing and delisting
are one-off dates inside the default demo window (the two years to 2026-11).

===============  =======  ==============================================================  ==========
fault            symbol   what                                                            when
===============  =======  ==============================================================  ==========
missing days     KO       no row on 3 isolated sessions a year                            yearly,
                                                                                          02-10,
                                                                                          06-10,
                                                                                          10-13
split            NVDA     2:1 forward split: raw OHLC / 2, volume x 2, shares x 2; a      yearly,
                          1:2 reverse split undoes it later in the year (keeps the        03-16 and
                          price level bounded); no ``adj_close``. Not a data fault any    09-15
                          more: both are published as split events
                          (``fetch_corporate_actions``, ratios 2 and 0.5), raw closes
                          stay at the old scale before each, so the checks pass it and
                          the index does not move on it (methodology section 2a)
bad print        JPM      close x 10 on one session, open/high/low untouched (an          yearly,
                          outlier AND an OHLC violation); the next session is normal      08-12
halt             BA       no rows for 5 consecutive sessions (beyond the forward-fill     yearly,
                          limit of 2); trading resumes at a gap: +25% in even years,      from 05-12
                          -20% in odd years (so the level does not drift away)
listed           GEV      no rows (and no shares) before the listing date                 2025-06-02
delisted         WBA      no rows (and no shares) after the delisting date; the last      2026-03-02
                          row is on that date
no shares        MMM      prices are clean, but ``fetch_shares`` has no rows for it (it   always
                          is reported in ``failures``): the market-cap sleeve's
                          "asset without shares outstanding" case
===============  =======  ==============================================================  ==========

:meth:`FaultCalendar.fault_events` (so ``SampleProvider.fault_events``) lists the concrete dates
for any range, for tests and docs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class SampleFaults:
    """Which symbol carries which deliberate fault, and when. ``None`` disables a fault.

    Month-days (``"MM-DD"``) mean "the first session on or after that day, every year".
    """

    missing_days_symbol: str | None = "KO"
    """Symbol with a few isolated sessions that have no row at all."""
    missing_days: tuple[str, ...] = ("02-10", "06-10", "10-13")
    """Month-days of the missing sessions (months apart, so never consecutive)."""

    split_symbol: str | None = "NVDA"
    """Symbol with a forward split and, later the same year, a reverse split undoing it."""
    split_ratio: float = 2.0
    """New shares per old share at the forward split (raw prices divide by it)."""
    split_day: str = "03-16"
    """Month-day of the forward split."""
    reverse_split_day: str = "09-15"
    """Month-day of the reverse split (prices multiply by ``split_ratio`` again)."""

    bad_print_symbol: str | None = "JPM"
    """Symbol with one fat-finger close per year."""
    bad_print_day: str = "08-12"
    """Month-day of the bad print; the next session is normal again."""
    bad_print_factor: float = 10.0
    """The bad close is the true close times this; open/high/low are left as they were."""

    halt_symbol: str | None = "BA"
    """Symbol halted (no rows) for ``halt_sessions`` consecutive sessions a year."""
    halt_day: str = "05-12"
    """Month-day of the first halted session."""
    halt_sessions: int = 5
    """Length of the halt; longer than the forward-fill limit (2) on purpose."""
    halt_gap: float = 0.25
    """Jump when trading resumes: ``+halt_gap`` in even years, ``1/(1+halt_gap) - 1`` in odd ones."""

    listed_symbol: str | None = "GEV"
    """Symbol with no rows (nor shares) before ``listing_date``."""
    listing_date: dt.date = dt.date(2025, 6, 2)
    """First session with a row is the first session on or after this date."""

    delisted_symbol: str | None = "WBA"
    """Symbol with no rows (nor shares) after ``delisting_date``."""
    delisting_date: dt.date = dt.date(2026, 3, 2)
    """Last session with a row is the last session on or before this date."""

    no_shares_symbol: str | None = "MMM"
    """Symbol with clean prices but no shares outstanding at all."""

    def __post_init__(self) -> None:
        symbols = [s for s in self.fault_symbols().values() if s is not None]
        if len(symbols) != len(set(symbols)):
            raise ValueError(f"each sample fault needs its own symbol, got {symbols}")
        if self.split_ratio <= 0 or self.bad_print_factor <= 0 or self.halt_gap <= -1:
            raise ValueError("split_ratio and bad_print_factor must be > 0 and halt_gap > -1")
        if self.halt_sessions < 1:
            raise ValueError("halt_sessions must be >= 1")
        for md in (*self.missing_days, self.bad_print_day, self.halt_day):
            _parse_month_day(md)
        # Forward first, reverse later in the same year: the price divisor is then 1 or the ratio.
        if _parse_month_day(self.split_day) >= _parse_month_day(self.reverse_split_day):
            raise ValueError("split_day must come before reverse_split_day in the year")

    def fault_symbols(self) -> dict[str, str | None]:
        """Fault name -> symbol (or None when disabled)."""
        return {f.name.removesuffix("_symbol"): getattr(self, f.name) for f in fields(self) if f.name.endswith("_symbol")}

    @classmethod
    def none(cls) -> SampleFaults:
        """No fault at all: every symbol is clean."""
        return cls(**{f.name: None for f in fields(cls) if f.name.endswith("_symbol")})


class FaultCalendar:
    """The sessions each fault of :class:`SampleFaults` falls on, as indices into ``_sessions``.

    A mixin of :class:`~autoindex_pipeline.providers.prices.sample.SampleProvider`: it reads the
    provider's calendar (``_sessions``, ``_n``) at each call rather than keeping a copy, so a
    provider whose calendar is cut short (as a test does) stays consistent with its faults.
    """

    faults: SampleFaults
    _universe: pd.DataFrame
    _sessions: pd.DatetimeIndex
    _n: int
    _yearly_cache: dict[str, np.ndarray]

    def fault_events(self, start: dt.date | str | None = None, end: dt.date | str | None = None) -> pd.DataFrame:
        """Concrete fault events in ``[start, end]`` for the symbols of this universe.

        Columns: symbol, fault, date (NaT for 'no_shares', which has no date), detail.
        """
        lo = self._sessions[0] if start is None else pd.Timestamp(start)
        hi = self._sessions[-1] if end is None else pd.Timestamp(end)
        events: list[tuple[str, str, pd.Timestamp, str]] = []
        f = self.faults
        sess = self._sessions

        def active(symbol: str | None) -> bool:
            return symbol is not None and symbol in self._universe.index

        if active(f.missing_days_symbol):
            for i in self._missing_day_idx():
                events.append((f.missing_days_symbol, "missing_day", sess[i], "no row"))
        if active(f.split_symbol):
            ratio = f"{f.split_ratio:g}"
            for i in self._yearly_idx(f.split_day):
                events.append((f.split_symbol, "split", sess[i], f"{ratio}:1 forward split"))
            for i in self._yearly_idx(f.reverse_split_day):
                events.append((f.split_symbol, "reverse_split", sess[i], f"1:{ratio} reverse split"))
        if active(f.bad_print_symbol):
            for i in self._yearly_idx(f.bad_print_day):
                detail = f"close x{f.bad_print_factor:g}, high/low unchanged"
                events.append((f.bad_print_symbol, "bad_print", sess[i], detail))
        if active(f.halt_symbol):
            for first in self._yearly_idx(f.halt_day):
                for k in range(f.halt_sessions):
                    if first + k < self._n:
                        detail = f"halted session {k + 1} of {f.halt_sessions}"
                        events.append((f.halt_symbol, "halt", sess[first + k], detail))
                resume = first + f.halt_sessions
                if resume < self._n:
                    detail = f"resumes with a {self._halt_gap_for(sess[resume].year):+.1%} gap"
                    events.append((f.halt_symbol, "halt_resume", sess[resume], detail))
        if active(f.listed_symbol):
            i = self._listing_idx()
            if i < self._n:
                events.append((f.listed_symbol, "listing", sess[i], "no rows before"))
        if active(f.delisted_symbol):
            i = self._delisting_idx()
            if i >= 0:
                events.append((f.delisted_symbol, "delisting", sess[i], "no rows after"))
        out = pd.DataFrame(events, columns=["symbol", "fault", "date", "detail"])
        out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
        out = out.loc[(out["date"] >= lo) & (out["date"] <= hi)]
        if active(f.no_shares_symbol):
            no_shares = {"symbol": [f.no_shares_symbol], "fault": ["no_shares"], "date": [pd.NaT], "detail": ["no rows"]}
            out = pd.concat([out, pd.DataFrame(no_shares)], ignore_index=True)
            out["date"] = out["date"].astype("datetime64[ns]")
        return out.sort_values(["date", "symbol", "fault"], na_position="last", kind="stable").reset_index(drop=True)

    def _yearly_idx(self, month_day: str) -> np.ndarray:
        """Index of the first session on or after ``month_day`` in every year of the calendar."""
        cached = self._yearly_cache.get(month_day)
        if cached is None:
            month, day = _parse_month_day(month_day)
            years = range(self._sessions[0].year, self._sessions[-1].year + 1)
            targets = pd.DatetimeIndex([_safe_date(y, month, day) for y in years])
            idx = self._sessions.searchsorted(targets, side="left")
            cached = np.unique(idx[idx < self._n])
            cached.flags.writeable = False  # shared by every caller
            self._yearly_cache[month_day] = cached
        return cached

    def _missing_day_idx(self) -> np.ndarray:
        return np.unique(np.concatenate([self._yearly_idx(md) for md in self.faults.missing_days]))

    def _split_factor(self) -> np.ndarray:
        """Price divisor per session: ``split_ratio`` between a forward split and the reverse."""
        f = self.faults
        marks = np.zeros(self._n + 1)
        np.add.at(marks, self._yearly_idx(f.split_day), 1.0)
        np.add.at(marks, self._yearly_idx(f.reverse_split_day), -1.0)
        return np.power(f.split_ratio, np.cumsum(marks[: self._n]))

    def _halt_gap_for(self, year: int) -> float:
        g = self.faults.halt_gap
        return g if year % 2 == 0 else 1.0 / (1.0 + g) - 1.0

    def _listing_idx(self) -> int:
        return int(self._sessions.searchsorted(pd.Timestamp(self.faults.listing_date), side="left"))

    def _delisting_idx(self) -> int:
        return int(self._sessions.searchsorted(pd.Timestamp(self.faults.delisting_date), side="right") - 1)


def _parse_month_day(md: str) -> tuple[int, int]:
    try:
        month, day = (int(x) for x in md.split("-"))
        dt.date(2000, month, day)  # 2000 is a leap year, so 02-29 passes
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected a month-day like '03-16', got {md!r}") from exc
    return month, day


def _safe_date(year: int, month: int, day: int) -> pd.Timestamp:
    # 02-29 in a non-leap year falls to 03-01: "on or after" still means something.
    try:
        return pd.Timestamp(year, month, day)
    except ValueError:
        return pd.Timestamp(year, month, day - 1) + pd.Timedelta(days=1)

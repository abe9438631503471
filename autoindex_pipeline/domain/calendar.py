"""Exchange sessions, from `exchange-calendars` (XNYS by default).

Sessions are the only notion of "a day" the pipeline has: partitions, expected rows, staleness
and rebalance dates all count sessions, so holidays never look like missing data. The calendar is
built from a fixed first date so it is the same object whatever range a caller asks for.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

CALENDAR_FIRST_DATE = "2000-01-01"
DEFAULT_CALENDAR = "XNYS"
EXCHANGE_TIMEZONE = "America/New_York"

DateLike = dt.date | str | pd.Timestamp


@lru_cache(maxsize=8)
def get_calendar(name: str = DEFAULT_CALENDAR) -> xcals.ExchangeCalendar:
    return xcals.get_calendar(name, start=CALENDAR_FIRST_DATE)


def to_date(value: DateLike) -> dt.date:
    return pd.Timestamp(value).date()


def sessions_between(start: DateLike, end: DateLike, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Sessions with start <= session <= end (both inclusive), as tz-naive midnight timestamps."""
    cal = get_calendar(calendar)
    lo = max(pd.Timestamp(start).normalize(), cal.first_session)
    hi = min(pd.Timestamp(end).normalize(), cal.last_session)
    if lo > hi:
        return pd.DatetimeIndex([], dtype="datetime64[ns]")
    return pd.DatetimeIndex(cal.sessions_in_range(lo, hi), dtype="datetime64[ns]").rename(None)


def is_session(day: DateLike, calendar: str = DEFAULT_CALENDAR) -> bool:
    return bool(get_calendar(calendar).is_session(pd.Timestamp(day).normalize()))


def previous_session(day: DateLike, calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    """The last session strictly before ``day``."""
    return get_calendar(calendar).date_to_session(pd.Timestamp(day).normalize() - pd.Timedelta(days=1), direction="previous")


def session_on_or_before(day: DateLike, calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    return get_calendar(calendar).date_to_session(pd.Timestamp(day).normalize(), direction="previous")


def session_close_utc(session: DateLike, calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    """When the session's closing print is final (16:00 New York, 13:00 on half days), in UTC."""
    return get_calendar(calendar).session_close(pd.Timestamp(session).normalize())


def last_closed_session(now: pd.Timestamp | None = None, calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    """The newest session whose close has happened at ``now`` (UTC)."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    if now.tzinfo is None:
        now = now.tz_localize("UTC")
    candidate = session_on_or_before(now.tz_convert(EXCHANGE_TIMEZONE).tz_localize(None).normalize(), calendar)
    if session_close_utc(candidate, calendar) > now:
        candidate = previous_session(candidate, calendar)
    return candidate


def non_session_weekdays(start: DateLike, end: DateLike, calendar: str = DEFAULT_CALENDAR) -> pd.DatetimeIndex:
    """Weekdays in [start, end] on which the exchange is closed (its holidays)."""
    weekdays = pd.bdate_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())
    return weekdays.difference(sessions_between(start, end, calendar))

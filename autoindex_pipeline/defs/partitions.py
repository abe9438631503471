"""The one trading-day partitions definition every daily asset shares.

Weekday cron ticks minus the exchange's holidays (from exchange-calendars), so a holiday is
never a partition, never "missing" and never a failed check. All daily assets must use this
same object: a single-run backfill over assets with different partition definitions is split
into chunks by Dagster.

``end_offset=1`` makes today's session a partition as soon as the day starts, so the 18:00
schedule can materialize it after the close instead of waiting until midnight.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE, get_calendar, non_session_weekdays

PARTITION_DATE_FORMAT = "%Y-%m-%d"


@lru_cache(maxsize=8)
def trading_day_partitions(start_date: dt.date, calendar: str = "XNYS") -> dg.TimeWindowPartitionsDefinition:
    tz = ZoneInfo(EXCHANGE_TIMEZONE)
    holidays = non_session_weekdays(start_date, get_calendar(calendar).last_session, calendar)
    return dg.TimeWindowPartitionsDefinition(
        cron_schedule="0 0 * * 1-5",
        timezone=EXCHANGE_TIMEZONE,
        fmt=PARTITION_DATE_FORMAT,
        start=dt.datetime.combine(start_date, dt.time(), tzinfo=tz),
        end_offset=1,
        exclusions=[dt.datetime.combine(day.date(), dt.time(), tzinfo=tz) for day in holidays],
    )


def partition_date_range(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    """First and last session (inclusive) of the partitions this run materializes."""
    key_range = context.partition_key_range
    return pd.Timestamp(key_range.start).date(), pd.Timestamp(key_range.end).date()

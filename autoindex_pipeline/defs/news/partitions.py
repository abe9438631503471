"""The news partitions: calendar days in New York (news happens on weekends too), today's from
midnight (``end_offset=1``) so the 15-minute refresh can fill it as the day goes."""

import datetime as dt
from functools import lru_cache

import dagster as dg

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE


@lru_cache(maxsize=8)
def news_day_partitions(start_date: dt.date) -> dg.DailyPartitionsDefinition:
    """The one calendar-day partitions definition the three news assets share (one object, so a
    single-run backfill over them is never split into chunks)."""
    return dg.DailyPartitionsDefinition(
        start_date=start_date.strftime("%Y-%m-%d"),
        timezone=EXCHANGE_TIMEZONE,
        fmt="%Y-%m-%d",
        end_offset=1,
    )

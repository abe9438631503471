"""What every domain under defs/ shares: the trading-day partitions and the automation condition
of everything downstream of prices.

Partitions. Weekday cron ticks minus the exchange's holidays (from exchange-calendars), so a
holiday is never a partition, never "missing" and never a failed check. All daily assets must
use this same object: a single-run backfill over assets with different partition definitions is
split into chunks by Dagster. ``end_offset=1`` makes today's session a partition as soon as the
day starts, so the 18:00 schedule can materialize it after the close instead of waiting until
midnight.

Automation. Not a fixed 19:00 job (the old Celery beat): the prices run ends whenever the
provider lets it (rate limits, retries, a late print re-fetched by the smart refresh), and a
backfill of an old partition must also propagate. The index and its reports run when their
inputs have updated, after the upstream blocking checks passed, and never while an upstream is
still running.
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


AC = dg.AutomationCondition

# News refreshes every 15 minutes: it is read by the next index update (and a backfill of old
# news days triggers a recompute inside the index builder), but does not by itself start one.
NEWS = dg.AssetSelection.keys("news_articles", "news_sentiment", "sentiment_daily")

INPUTS_UPDATED_AND_CHECKED = (
    (AC.newly_missing() | AC.any_deps_updated().ignore(NEWS)).since_last_handled()
    & ~AC.any_deps_in_progress()
    & ~AC.in_progress()
    & AC.all_deps_blocking_checks_passed()
).with_label("inputs updated and their blocking checks passed")

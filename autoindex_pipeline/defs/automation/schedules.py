"""Schedules: only where the outside world sets the time.

* prices at 18:00 New York on exchange sessions (after the close, half days included); a
  weekday holiday is a skipped tick with its reason, not a run;
* maintenance jobs on the operations calendar (ops/calendar.py).

Everything downstream of prices runs by declarative automation when its inputs update
(defs/automation/conditions.py), not at a guessed time.
"""

from zoneinfo import ZoneInfo

import dagster as dg

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE, is_session

PRICES_CRON = "0 18 * * 1-5"


def build_prices_schedule(prices_job_name: str, calendar: str, provider: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="prices_after_close",
        cron_schedule=PRICES_CRON,
        execution_timezone=EXCHANGE_TIMEZONE,
        job_name=prices_job_name,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Today's prices partition at 18:00 New York, on exchange sessions only.",
    )
    def prices_after_close(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.astimezone(ZoneInfo(EXCHANGE_TIMEZONE)).date()
        if not is_session(day, calendar):
            return dg.SkipReason(f"{day} is not a {calendar} session (exchange holiday): no prices to fetch")
        key = day.isoformat()
        return dg.RunRequest(run_key=f"prices-{key}", partition_key=key, tags={"autoindex/provider": provider})

    return prices_after_close


NEWS_CRON = "*/15 * * * *"


def build_news_schedule(news_job_name: str, provider: str) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="news_every_15_minutes",
        cron_schedule=NEWS_CRON,
        execution_timezone=EXCHANGE_TIMEZONE,
        job_name=news_job_name,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Today's news partition (New York date), every 15 minutes; dedup keeps it idempotent.",
    )
    def news_every_15_minutes(context: dg.ScheduleEvaluationContext):
        moment = context.scheduled_execution_time.astimezone(ZoneInfo(EXCHANGE_TIMEZONE))
        key = moment.date().isoformat()
        return dg.RunRequest(
            run_key=f"news-{moment.strftime('%Y-%m-%dT%H:%M')}", partition_key=key, tags={"autoindex/provider": provider}
        )

    return news_every_15_minutes

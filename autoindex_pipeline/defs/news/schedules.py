"""The news schedule: today's partition every 15 minutes (news happens at any hour; the
deduplication makes a refresh idempotent, so the cadence only bounds the feed's latency).

Today's partition is fetched "up to now", so an article published in the last minutes of a New
York day (23:45-24:00) would be missed by the last tick of that day and never asked for again.
Until 01:00 New York each tick therefore also requests the previous day's partition: the tail
is collected by the ticks of the first hour, and dedup keeps the repeats idempotent.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg

from autoindex_pipeline.defs.shared import schedule_status
from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE

NEWS_CRON = "*/15 * * * *"
# Ticks before this New York time also refresh the previous day (its last articles' tail).
PREVIOUS_DAY_UNTIL = dt.time(1, 0)


def news_run_requests(moment: dt.datetime, provider: str, first_day: dt.date | None = None) -> list[dg.RunRequest]:
    """Today's partition at ``moment`` (New York), and before 01:00 the previous day's (when it
    is on or after ``first_day``, the first partition); run keys are stable per (day, tick), so a
    re-evaluated tick requests nothing new."""
    moment = moment.astimezone(ZoneInfo(EXCHANGE_TIMEZONE))
    tick = moment.strftime("%Y-%m-%dT%H:%M")
    tags = {"autoindex/provider": provider}
    today = moment.date()
    requests = [dg.RunRequest(run_key=f"news-{tick}", partition_key=today.isoformat(), tags=tags)]
    previous = today - dt.timedelta(days=1)
    if moment.time() < PREVIOUS_DAY_UNTIL and (first_day is None or previous >= first_day):
        key = previous.isoformat()
        requests.append(dg.RunRequest(run_key=f"news-{key}-tail-{tick}", partition_key=key, tags=tags))
    return requests


def build_news_schedule(news_job_name: str, provider: str, first_day: dt.date | None = None) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="news_every_15_minutes",
        cron_schedule=NEWS_CRON,
        execution_timezone=EXCHANGE_TIMEZONE,
        job_name=news_job_name,
        default_status=schedule_status(),  # AUTOINDEX_START_AUTOMATION=1 starts it
        description="Today's news partition (New York date) every 15 minutes, and until 01:00 the "
        "previous day's (its last articles); dedup keeps it idempotent.",
    )
    def news_every_15_minutes(context: dg.ScheduleEvaluationContext):
        return news_run_requests(context.scheduled_execution_time, provider, first_day)

    return news_every_15_minutes

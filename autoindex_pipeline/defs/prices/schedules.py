"""The prices schedule: the only place the outside world (the US close) sets the time.

18:00 New York on exchange sessions (after the close, half days included); a weekday holiday is
a skipped tick with its reason, not a run. Everything downstream of prices runs by declarative
automation when its inputs update (defs/shared.py), not at a guessed time.
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

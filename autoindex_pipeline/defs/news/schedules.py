"""The news schedule: today's partition every 15 minutes (news happens at any hour; the
deduplication makes a refresh idempotent, so the cadence only bounds the feed's latency)."""

from zoneinfo import ZoneInfo

import dagster as dg

from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE

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

"""Automation: the prices schedule, maintenance jobs and schedules, alert sensors."""

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.automation.maintenance import MAINTENANCE_JOBS, maintenance_schedules
from autoindex_pipeline.defs.automation.schedules import build_news_schedule, build_prices_schedule
from autoindex_pipeline.defs.automation.sensors import ALERT_SENSORS
from autoindex_pipeline.defs.news.definitions import NEWS_JOB, NEWS_RETENTION_JOB
from autoindex_pipeline.defs.prices.definitions import PRICES_JOB
from autoindex_pipeline.maintenance.calendar import OPERATIONS_CALENDAR


def build(config: AutoIndexConfig) -> dg.Definitions:
    return dg.Definitions(
        jobs=list(MAINTENANCE_JOBS.values()),
        schedules=[
            build_prices_schedule(PRICES_JOB, config.prices.calendar, config.providers.prices),
            build_news_schedule(NEWS_JOB, config.news.provider),
            *maintenance_schedules(OPERATIONS_CALENDAR, {"news_retention": NEWS_RETENTION_JOB}),
        ],
        sensors=ALERT_SENSORS,
    )

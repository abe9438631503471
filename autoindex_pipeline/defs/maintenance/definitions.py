"""The maintenance domain: warehouse upkeep jobs and their schedules."""

import dagster as dg

from autoindex_pipeline.defs.maintenance.jobs import MAINTENANCE_JOBS
from autoindex_pipeline.defs.maintenance.schedules import maintenance_schedules
from autoindex_pipeline.defs.news.definitions import NEWS_RETENTION_JOB


def build() -> dg.Definitions:
    return dg.Definitions(jobs=MAINTENANCE_JOBS, schedules=maintenance_schedules(NEWS_RETENTION_JOB))

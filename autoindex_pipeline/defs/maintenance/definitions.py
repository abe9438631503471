"""The maintenance domain: warehouse upkeep jobs and their schedules."""

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.maintenance.capacity import capacity, capacity_job, prune_run_history_job
from autoindex_pipeline.defs.maintenance.checklist import operations_checklist, operations_checklist_job
from autoindex_pipeline.defs.maintenance.jobs import MAINTENANCE_JOBS
from autoindex_pipeline.defs.maintenance.reconciliation import reconciliation_job
from autoindex_pipeline.defs.maintenance.schedules import maintenance_schedules
from autoindex_pipeline.defs.news.definitions import NEWS_RETENTION_JOB


def build(config: AutoIndexConfig) -> dg.Definitions:
    return dg.Definitions(
        assets=[capacity, operations_checklist],
        jobs=[*MAINTENANCE_JOBS, capacity_job, prune_run_history_job, reconciliation_job, operations_checklist_job],
        schedules=maintenance_schedules(NEWS_RETENTION_JOB, config),
    )

"""The maintenance schedules: the tasks of the operations calendar that run unattended
(docs/operations.md lists the rest, the reviews a person performs, which the weekly
`operations_checklist` asset lists when due).

Times are America/New_York: heavy work at night or at the weekend, after the day's loads.
Cron knows weekends, not holidays; none of these needs a session. Dagster (like Vixie cron) ORs
day-of-month and day-of-week when both are set, so no expression here sets both.

Under the switch (``AUTOINDEX_START_AUTOMATION=1``) every one starts RUNNING: each works on the
embedded SQLite default and on PostgreSQL (backups through the online backup API or pg_dump,
the restore test into a scratch file or database, ANALYZE and VACUUM, capacity from the files
or the catalog, pruning Dagster's own storage), and a deployment left alone needs its backups
proved, its growth watched and its history pruned. The one exception is the reconciliation: with
no ``quality.reconciliation_provider`` its job can only fail ("no second source"), so it starts
only when a second source is configured.
"""

import dagster as dg

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.defs.maintenance.capacity import CAPACITY_JOB, prune_run_history_job
from autoindex_pipeline.defs.maintenance.checklist import CHECKLIST_JOB
from autoindex_pipeline.defs.maintenance.jobs import (
    analyze_warehouse_job,
    backup_restore_test_job,
    vacuum_warehouse_job,
    warehouse_backup_job,
)
from autoindex_pipeline.defs.maintenance.reconciliation import reconciliation_job
from autoindex_pipeline.defs.shared import schedule_status

TIMEZONE = "America/New_York"


def _schedule(task: str, cron: str, description: str, job=None, job_name: str | None = None,
              startable: bool = True) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=f"{task}_schedule",
        cron_schedule=cron,
        execution_timezone=TIMEZONE,
        job=job,
        job_name=job_name,
        default_status=schedule_status() if startable else dg.DefaultScheduleStatus.STOPPED,
        description=description,
    )


def maintenance_schedules(news_retention_job_name: str, config: AutoIndexConfig) -> list[dg.ScheduleDefinition]:
    """``news_retention_job_name``: the retention job is defined by the news domain (by name)."""
    second_source = config.quality.reconciliation_provider is not None
    return [
        _schedule("warehouse_backup", "0 1 * * *", "daily: Nightly warehouse backup", job=warehouse_backup_job),
        _schedule("news_retention", "30 1 * * *", "daily: Archive old news", job_name=news_retention_job_name),
        _schedule("analyze_warehouse", "0 20 * * 1-5", "daily: Refresh planner statistics", job=analyze_warehouse_job),
        _schedule("vacuum_analyze_warehouse", "0 3 * * 0", "weekly: Weekly VACUUM (ANALYZE)", job=vacuum_warehouse_job),
        _schedule("backup_restore_test", "0 4 1 * *", "monthly: Backup and restore test", job=backup_restore_test_job),
        _schedule("capacity", "0 6 * * *", "daily: Capacity, growth and free disk", job_name=CAPACITY_JOB),
        _schedule("prune_run_history", "0 5 1 * *", "monthly: Prune Dagster's run history", job=prune_run_history_job),
        _schedule("reconciliation", "0 6 2 * *", "monthly: Cross-source price spot check", job=reconciliation_job,
                  startable=second_source),
        _schedule("operations_checklist", "0 7 * * 1", "weekly: The operations reviews due this week", job_name=CHECKLIST_JOB),
    ]

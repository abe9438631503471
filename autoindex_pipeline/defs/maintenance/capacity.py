"""Capacity and housekeeping of Dagster itself: the daily `capacity` asset (sizes, growth, free
disk, a chart; its `capacity_limits` check warns when a configured line is crossed) and the job
that prunes old runs from Dagster's run history."""

import datetime as dt

import dagster as dg

from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.defs.shared import CODE_VERSION, OWNERS, asset_tags, column_schema
from autoindex_pipeline.services.capacity import measure_capacity, storage_bytes

CAPACITY_CHECK = "capacity_limits"
CAPACITY_JOB = "capacity_job"


def dagster_storage_bytes(instance: dg.DagsterInstance) -> tuple[int | None, str]:
    """(bytes, where): the PostgreSQL database of the run storage, or the files of the instance
    directory (SQLite run and event storage, compute logs)."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if url:
        return storage_bytes(postgres_url=url), "postgres"
    return storage_bytes(directory=instance.root_directory), "files"


@dg.asset(
    name="capacity",
    group_name="maintenance",
    kinds={"sql"},
    owners=OWNERS,
    tags=asset_tags("maintenance", tier="support"),
    code_version=CODE_VERSION,
    metadata={"dagster/column_schema": column_schema("capacity_snapshots")},
    check_specs=[dg.AssetCheckSpec(
        CAPACITY_CHECK, asset="capacity", blocking=False,
        description="free disk >= maintenance.capacity.min_free_disk_gb and min_free_disk_fraction; growth over the "
                    "last 30 days <= max_growth_mb_per_month (WARN)",
    )],
)
def capacity(context: dg.AssetExecutionContext, settings: SettingsResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Daily: every warehouse table's rows, table and index bytes; the warehouse's size and its
    growth per day and per month (from the stored history, table capacity_snapshots); Dagster's
    run-storage size; free disk of the data directory. A chart and the table sizes in the
    metadata; the capacity_limits check warns when a configured line is crossed."""
    dagster_bytes, where = dagster_storage_bytes(context.instance)
    report = measure_capacity(warehouse.engine, settings.config, dagster_bytes=dagster_bytes, now=dt.datetime.now(dt.UTC))
    g = report.growth
    figures = {
        "database_bytes": report.database_bytes,
        "dagster_storage_bytes": report.dagster_bytes if report.dagster_bytes is not None else -1,
        "dagster_storage": where,
        "free_disk_bytes": report.free_bytes,
        "disk_bytes": report.disk_bytes,
        "growth_bytes_per_day": round(g.per_day, 1) if g.per_day is not None else "n/a",
        "growth_bytes_per_month": round(g.per_month, 1) if g.per_month is not None else "n/a",
        "days_until_disk_full": round(report.days_to_full, 1) if report.days_to_full is not None else "n/a",
        "snapshot_days": report.snapshots,
    }
    if report.problems:
        context.log.warning("capacity: " + "; ".join(report.problems))
    context.log.info(
        f"capacity: warehouse {report.database_bytes / 1e6:.1f} MB in {len(report.tables)} tables, free disk "
        f"{report.free_bytes / 1e9:.1f} GB"
    )
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(report.tables["rows"].sum()),
            **figures,
            "tables": dg.MetadataValue.md(report.markdown),
        },
        check_results=[dg.AssetCheckResult(
            check_name=CAPACITY_CHECK,
            passed=not report.problems,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(report.problems) or "within the configured lines",
            metadata={k: figures[k] for k in ("free_disk_bytes", "disk_bytes", "growth_bytes_per_month")},
        )],
    )


capacity_job = dg.define_asset_job(CAPACITY_JOB, selection=[capacity], description="Measure capacity (daily).")


# --------------------------------------------------------------------------------------------
# Dagster's run history

FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED]
FAILED = [dg.DagsterRunStatus.FAILURE]


def prune_runs(
    instance: dg.DagsterInstance, now: dt.datetime, keep_days: int, keep_failed_days: int, *, limit: int = 5000,
    keep_run_ids: frozenset[str] = frozenset(),
) -> dict[str, int]:
    """Delete finished runs (success, canceled) created more than ``keep_days`` before ``now``
    and failed runs older than ``keep_failed_days`` (their events and logs go with them). Runs
    still queued or in progress are never touched. At most ``limit`` of each per call, oldest
    first, so one tick stays short; the next takes the rest."""
    deleted = {"finished": 0, "failed": 0}
    for label, statuses, days in (("finished", FINISHED, keep_days), ("failed", FAILED, keep_failed_days)):
        records = instance.get_run_records(
            filters=dg.RunsFilter(statuses=statuses, created_before=now - dt.timedelta(days=days)),
            limit=limit, ascending=True,
        )
        for record in records:
            if record.dagster_run.run_id in keep_run_ids:
                continue
            instance.delete_run(record.dagster_run.run_id)
            deleted[label] += 1
    return deleted


@dg.op(description="Delete Dagster runs older than maintenance.run_retention.keep_days (failed ones after "
                   "keep_failed_days) with their event logs.")
def prune_run_history(context: dg.OpExecutionContext, settings: SettingsResource) -> dg.Output:
    retention = settings.config.maintenance.run_retention
    deleted = prune_runs(context.instance, dt.datetime.now(dt.UTC), retention.keep_days, retention.keep_failed_days,
                         keep_run_ids=frozenset({context.run_id}))
    context.log.info(
        f"pruned {deleted['finished']} finished run(s) older than {retention.keep_days} days and {deleted['failed']} "
        f"failed run(s) older than {retention.keep_failed_days} days"
    )
    return dg.Output(None, metadata={"deleted_finished_runs": deleted["finished"], "deleted_failed_runs": deleted["failed"],
                                     "keep_days": retention.keep_days, "keep_failed_days": retention.keep_failed_days})


@dg.job(description="Prune Dagster's run history (monthly): finished runs after keep_days, failures after keep_failed_days.")
def prune_run_history_job():
    prune_run_history()

"""Maintenance ops and jobs: warehouse statistics, vacuum, the nightly backup, and the monthly
restore test of the latest stored backup (seed 001). When they run: defs/maintenance/schedules.py; the
operations calendar with the manual tasks: docs/operations.md."""

import datetime as dt
from pathlib import Path

import dagster as dg

from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.maintenance import backup
from autoindex_pipeline.warehouse import housekeeping
from autoindex_pipeline.warehouse.engine import is_postgres


class BackupConfig(dg.Config):
    keep_days: int | None = None
    """None = maintenance.backup_keep_days."""


@dg.op(description="ANALYZE the warehouse so the planner's statistics follow the daily loads.")
def analyze_warehouse(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    context.log.info(f"{housekeeping.analyze(warehouse.engine)} done")


@dg.op(description="VACUUM (ANALYZE) the warehouse: reclaims the space of replaced partitions.")
def vacuum_warehouse(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    context.log.info(f"{housekeeping.vacuum(warehouse.engine)} done")


def backup_dir(settings: SettingsResource) -> Path:
    path = settings.config.data_dir / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


STALE_BACKUP_DAYS = 2


def backup_age_days(created_at: str | None, now: dt.datetime) -> float | None:
    """Days since a backup's manifest stamp (``2026-01-05T06:00:00Z``)."""
    if not created_at:
        return None
    taken = dt.datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (now - taken).total_seconds() / 86_400


def _failure(exc: backup.BackupError) -> dg.Failure:
    return dg.Failure(description=str(exc))


@dg.op(description="A dated backup of the warehouse into <data_dir>/backups with a manifest of every table's "
                   "row count and checksum (pg_dump on PostgreSQL, the online backup API on SQLite); backups "
                   "older than maintenance.backup_keep_days pruned, the newest always kept.")
def dump_warehouse(context: dg.OpExecutionContext, config: BackupConfig, settings: SettingsResource,
                   warehouse: WarehouseResource) -> dg.Output:
    workdir = backup_dir(settings)
    keep_days = config.keep_days or settings.config.maintenance.backup_keep_days
    try:
        result = backup.backup_warehouse(warehouse.url, workdir)
    except backup.BackupError as exc:
        raise _failure(exc) from None
    pruned = backup.prune_backups(workdir, keep_days=keep_days, prefix=backup.backup_prefix(warehouse.url))
    context.log.info(
        f"backed up {result.tables} tables ({result.rows} rows, {result.bytes / 1e6:.1f} MB) to {result.path} in "
        f"{result.seconds:.1f} s; pruned {len(pruned)} backup(s) older than {keep_days} days"
    )
    return dg.Output(None, metadata={
        "backup": dg.MetadataValue.path(str(result.path)), "bytes": result.bytes, "tables": result.tables,
        "rows": result.rows, "seconds": round(result.seconds, 3), "pruned": len(pruned),
        "stored_backups": len(backup.stored_backups(workdir, backup.backup_prefix(warehouse.url))),
    })


@dg.op(description="Restore the LATEST STORED backup (the nightly one) into a scratch database (PostgreSQL) or "
                   "file (SQLite), compare row counts and checksums of every table with the manifest taken "
                   "with the backup, drop the scratch copy, report.")
def backup_restore_test(context: dg.OpExecutionContext, settings: SettingsResource,
                        warehouse: WarehouseResource) -> dg.Output:
    workdir = backup_dir(settings)
    scratch = (housekeeping.scratch_database_url(warehouse.url) if is_postgres(warehouse.engine)
               else str(workdir / ".restore_test.sqlite"))
    try:
        report = backup.restore_test_latest(warehouse.url, workdir, scratch)
    except backup.BackupError as exc:
        raise _failure(exc) from None
    metadata = {**report.as_metadata(), "tables_checked": dg.MetadataValue.json(report.table_rows()),
                "report": dg.MetadataValue.md(report.to_markdown())}
    age = backup_age_days(report.backup_created_at, dt.datetime.now(dt.UTC))
    if age is not None:
        metadata["backup_age_days"] = round(age, 2)
        if age > STALE_BACKUP_DAYS:
            # The restore test proves the newest stored backup; an old one means the nightly
            # backup has stopped, which the test alone would not show.
            context.log.warning(f"the newest stored backup is {age:.1f} days old: is warehouse_backup_schedule running?")
    if not report.match:
        raise dg.Failure(description=f"restore test mismatch in {', '.join(report.mismatched)}", metadata=metadata)
    context.log.info(
        f"restore test passed: the backup taken {report.backup_created_at} restores, {report.total_rows} rows in "
        f"{len(report.tables)} tables match its manifest"
    )
    return dg.Output(None, metadata=metadata)


@dg.job(description="ANALYZE the warehouse (daily, after the loads).")
def analyze_warehouse_job():
    analyze_warehouse()


@dg.job(description="VACUUM (ANALYZE) the warehouse (weekly).")
def vacuum_warehouse_job():
    vacuum_warehouse()


@dg.job(description="Nightly backup of the warehouse (pg_dump or the SQLite backup API) with retention.")
def warehouse_backup_job():
    dump_warehouse()


@dg.job(description="Monthly restore test of the latest stored backup, every table compared (seed 001).")
def backup_restore_test_job():
    backup_restore_test()


MAINTENANCE_JOBS = [analyze_warehouse_job, vacuum_warehouse_job, warehouse_backup_job, backup_restore_test_job]

"""Maintenance ops and jobs: warehouse statistics, vacuum, nightly dump, and the monthly
backup-and-restore test (seed 001). When they run: defs/maintenance/schedules.py; the
operations calendar with the manual tasks: docs/operations.md."""

import dagster as dg

from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.maintenance import backup
from autoindex_pipeline.warehouse import housekeeping
from autoindex_pipeline.warehouse.engine import is_postgres

KEY_TABLES = ["assets", "prices", "market_cap_data", "strategy_configs", "allocations", "index_values", "risk_metrics"]


class BackupConfig(dg.Config):
    keep_days: int = 30


@dg.op(description="ANALYZE the warehouse so the planner's statistics follow the daily loads.")
def analyze_warehouse(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    context.log.info(f"{housekeeping.analyze(warehouse.engine)} done")


@dg.op(description="VACUUM (ANALYZE) the warehouse: reclaims the space of replaced partitions.")
def vacuum_warehouse(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    context.log.info(f"{housekeeping.vacuum(warehouse.engine)} done")


def _backup_dir(settings: SettingsResource):
    path = settings.config.data_dir / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _require_postgres(warehouse: WarehouseResource, what: str) -> None:
    if not is_postgres(warehouse.engine):
        raise dg.Failure(
            description=f"{what} needs the PostgreSQL warehouse; the embedded SQLite warehouse is a "
            "single file: copy it (with the pipeline stopped) to back it up."
        )


@dg.op(description="pg_dump of the warehouse into <data_dir>/backups; dumps older than keep_days pruned.")
def dump_warehouse(context: dg.OpExecutionContext, config: BackupConfig, settings: SettingsResource,
                   warehouse: WarehouseResource) -> dg.Output:
    _require_postgres(warehouse, "warehouse_backup")
    workdir = _backup_dir(settings)
    result = backup.dump_database(warehouse.url, workdir)
    pruned = backup.prune_dumps(workdir, keep_days=config.keep_days)
    context.log.info(f"dumped to {result.path}; pruned {len(pruned)} old dump(s)")
    return dg.Output(None, metadata={"dump": str(result.path), "bytes": result.bytes, "pruned": len(pruned)})


@dg.op(description="Dump the warehouse, restore it into a scratch database, compare row counts and "
                   "checksums of the key tables, drop the scratch database, report.")
def backup_restore_test(context: dg.OpExecutionContext, settings: SettingsResource,
                        warehouse: WarehouseResource) -> dg.Output:
    _require_postgres(warehouse, "backup_restore_test")
    scratch = housekeeping.scratch_database_url(warehouse.url)
    report = backup.backup_and_verify(warehouse.url, scratch, KEY_TABLES, _backup_dir(settings), keep_dump=False)
    metadata = {**report.as_metadata(), "tables_checked": dg.MetadataValue.json(report.table_rows())}
    if not report.match:
        raise dg.Failure(description=f"restore test mismatch in {', '.join(report.mismatched)}", metadata=metadata)
    context.log.info(f"restore test passed: {report.total_rows} rows in {len(report.tables)} tables match")
    return dg.Output(None, metadata=metadata)


@dg.job(description="ANALYZE the warehouse (daily, after the loads).")
def analyze_warehouse_job():
    analyze_warehouse()


@dg.job(description="VACUUM (ANALYZE) the warehouse (weekly).")
def vacuum_warehouse_job():
    vacuum_warehouse()


@dg.job(description="Nightly pg_dump of the PostgreSQL warehouse with 30-day retention.")
def warehouse_backup_job():
    dump_warehouse()


@dg.job(description="Monthly backup-and-restore test of the PostgreSQL warehouse (seed 001).")
def backup_restore_test_job():
    backup_restore_test()


MAINTENANCE_JOBS = [analyze_warehouse_job, vacuum_warehouse_job, warehouse_backup_job, backup_restore_test_job]

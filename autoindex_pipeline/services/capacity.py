"""The daily capacity measurement: the warehouse's tables and total, Dagster's run storage, the
data directory's disk; stored as the day's snapshot, with growth from the stored history and the
configured lines (``maintenance.capacity``). No Dagster here: the caller says how big Dagster's
storage is (:func:`storage_bytes`)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.capacity import CapacityLimits, Growth, capacity_problems, days_until_full, growth
from autoindex_pipeline.reporting.capacity import capacity_markdown
from autoindex_pipeline.warehouse import capacity as store

if TYPE_CHECKING:
    import sqlalchemy as sa

HISTORY_DAYS = 400


@dataclass(frozen=True)
class CapacityReport:
    day: dt.date
    tables: pd.DataFrame
    database_bytes: int
    dagster_bytes: int | None
    free_bytes: int
    disk_bytes: int
    growth: Growth
    days_to_full: float | None
    problems: list[str]
    markdown: str
    snapshots: int
    """Days of history the growth is read from (today included)."""


def storage_bytes(postgres_url: str | None = None, directory: str | os.PathLike[str] | None = None) -> int | None:
    """Dagster's storage size: its PostgreSQL database, or the files under its directory."""
    if postgres_url:
        return store.postgres_database_bytes(postgres_url)
    if directory is None or not Path(directory).is_dir():
        return None
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())


def limits_from(config: AutoIndexConfig) -> CapacityLimits:
    c = config.maintenance.capacity
    return CapacityLimits(
        min_free_bytes=c.min_free_disk_gb * 1e9,
        min_free_fraction=c.min_free_disk_fraction,
        max_growth_bytes_per_month=None if c.max_growth_mb_per_month is None else c.max_growth_mb_per_month * 1e6,
    )


def measure_capacity(
    engine: sa.Engine,
    config: AutoIndexConfig,
    *,
    dagster_bytes: int | None,
    now: dt.datetime,
    disk_path: str | os.PathLike[str] | None = None,
) -> CapacityReport:
    """Measure, store today's snapshot (replacing one taken earlier today) and read the growth."""
    day = now.astimezone(dt.UTC).date()
    tables = store.measure_tables(engine)
    total = store.database_bytes(engine)
    folder = Path(disk_path or config.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    disk = shutil.disk_usage(folder)
    rows = pd.concat([
        tables.assign(kind="table"),
        pd.DataFrame([
            {"kind": "database", "name": "warehouse", "rows": int(tables["rows"].sum()), "total_bytes": total},
            {"kind": "dagster", "name": "run_storage", "total_bytes": dagster_bytes},
            {"kind": "disk", "name": str(folder), "total_bytes": disk.total, "free_bytes": disk.free},
        ]),
    ], ignore_index=True)
    store.store_snapshot(engine, day, rows, now)
    history = store.read_history(engine, since=day - dt.timedelta(days=HISTORY_DAYS), kinds=("database", "dagster", "disk"))
    sizes = history[history["kind"] == "database"].set_index("day")["total_bytes"].astype(float)
    grown = growth(sizes)
    to_full = days_until_full(disk.free, grown.per_day)
    problems = capacity_problems(disk.free, disk.total, grown.per_month, limits_from(config))
    markdown = capacity_markdown(
        tables, history, database_bytes=total, dagster_bytes=dagster_bytes, free_bytes=disk.free, disk_bytes=disk.total,
        per_day=grown.per_day, per_month=grown.per_month, days_to_full=to_full, problems=problems,
    )
    return CapacityReport(day, tables, total, dagster_bytes, disk.free, disk.total, grown, to_full, problems, markdown,
                          len(sizes))

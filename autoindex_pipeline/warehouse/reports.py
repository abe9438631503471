"""The performance reports' reads (index levels, allocations, the fingerprints they were
rendered from) and their replace-by-period write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema

REPORT_TABLES: dict[str, sa.Table] = {
    "figures": schema.performance_reports,
    "contributors": schema.performance_contributors,
    "allocation_changes": schema.performance_allocation_changes,
    "renders": schema.performance_report_renders,
}


def read_index_frame(engine: sa.Engine, strategy: str, version: str) -> pd.DataFrame:
    """Every stored index row of one strategy version with its benchmark columns, by date."""
    t = schema.index_values
    stmt = (
        sa.select(t.c.date, t.c.level, t.c.daily_return, t.c.turnover, t.c.is_rebalance, t.c.benchmark_level, t.c.benchmark_return)
        .where(t.c.strategy == strategy, t.c.version == version)
        .order_by(t.c.date)
    )
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["is_rebalance"] = frame["is_rebalance"].astype(bool)
    return frame


def read_allocation_targets(engine: sa.Engine, strategy: str, version: str, since: Any = None) -> pd.DataFrame:
    """(date, symbol, weight) of every rebalance of one strategy version; with ``since``, of the
    last rebalance on or before it and every later one (all of them when none is on or before
    it): what a report drifting targets from before ``since`` needs, not the whole history."""
    t = schema.allocations
    mine = sa.and_(t.c.strategy == strategy, t.c.version == version)
    stmt = sa.select(t.c.date, t.c.symbol, t.c.weight).where(mine)
    if since is not None:
        origin = sa.select(sa.func.max(t.c.date)).where(mine, t.c.date <= pd.Timestamp(since).date()).scalar_subquery()
        stmt = stmt.where(sa.or_(origin.is_(None), t.c.date >= origin))
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def read_render_fingerprints(engine: sa.Engine) -> dict[tuple[str, str, str, str], str]:
    """(strategy, version, period, label) -> the fingerprint its stored report was rendered from."""
    t = schema.performance_report_renders
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.strategy, t.c.version, t.c.period, t.c.label, t.c.fingerprint)).all()
    return {(r.strategy, r.version, r.period, r.label): r.fingerprint for r in rows}


def replace_report_rows(
    engine: sa.Engine,
    periods: Iterable[tuple[str, str, str, str]],
    rows: Mapping[str, Sequence[Mapping[str, Any]]],
) -> None:
    """In one transaction, delete every stored row of each (strategy, version, period, label)
    in ``periods`` from the report tables (the fingerprints' included), then insert ``rows``
    (keyed like :data:`REPORT_TABLES`; keys that are not columns are dropped)."""
    with engine.begin() as conn:
        for strategy, version, period, label in periods:
            for table in REPORT_TABLES.values():
                conn.execute(table.delete().where(
                    table.c.strategy == strategy, table.c.version == version,
                    table.c.period == period, table.c.label == label,
                ))
        for kind, table in REPORT_TABLES.items():
            batch = rows.get(kind) or []
            if batch:
                columns = {c.name for c in table.columns}
                conn.execute(table.insert(), [{k: v for k, v in row.items() if k in columns} for row in batch])

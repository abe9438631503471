"""Planner statistics and space reclaim for the warehouse (the maintenance jobs call these)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from autoindex_pipeline.warehouse.engine import is_postgres


def analyze(engine: sa.Engine) -> str:
    """ANALYZE the whole warehouse; returns the statement run."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    return "ANALYZE"


def vacuum(engine: sa.Engine) -> str:
    """VACUUM (ANALYZE on PostgreSQL): reclaims the space of replaced partitions."""
    statement = "VACUUM (ANALYZE)" if is_postgres(engine) else "VACUUM"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(statement)
    return statement


def scratch_database_url(url: str, suffix: str = "_restore_test") -> str:
    """The URL of a scratch database beside the warehouse's (same server and credentials)."""
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}{suffix}").render_as_string(hide_password=False)

"""Each fetching run's provider call counts (``provider_calls``): one row per run, written
whether the run succeeded or not, read back newest first by the provider_health sensor."""

from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

from autoindex_pipeline.domain.alerts import RunCalls
from autoindex_pipeline.warehouse import schema

logger = logging.getLogger(__name__)

T = schema.provider_calls


def record_run_calls(
    engine: sa.Engine, run_id: str, asset: str, provider: str, calls: int, succeeded: int, failed: int,
    at: dt.datetime | None = None,
) -> bool:
    """Replace the run's row. Returns False (and logs) instead of raising: this is called from a
    ``finally`` of a run that may be failing already, whose own error must not be masked."""
    row = {"run_id": run_id, "asset": asset, "provider": provider, "calls": int(calls), "succeeded": int(succeeded),
           "failed": int(failed), "at": at or dt.datetime.now(dt.UTC)}
    try:
        with engine.begin() as conn:
            conn.execute(T.delete().where(T.c.run_id == run_id))
            conn.execute(T.insert(), [row])
    except sa.exc.SQLAlchemyError as exc:
        logger.warning("could not record the provider calls of run %s: %s", run_id, type(exc).__name__)
        return False
    return True


def recent_run_calls(engine: sa.Engine, limit_runs: int = 200) -> dict[tuple[str, str], list[RunCalls]]:
    """(asset, provider) -> its newest runs' calls, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(T.c.asset, T.c.provider, T.c.run_id, T.c.calls, T.c.succeeded)
            .order_by(T.c.at.desc(), T.c.run_id).limit(limit_runs)
        ).all()
    out: dict[tuple[str, str], list[RunCalls]] = {}
    for r in rows:
        out.setdefault((r.asset, r.provider), []).append(RunCalls(r.run_id, int(r.calls), int(r.succeeded)))
    return out


def run_calls(engine: sa.Engine, run_id: str) -> list[RunCalls]:
    """The provider calls of one run (one row per asset and provider it fetched with)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.c.run_id, T.c.calls, T.c.succeeded).where(T.c.run_id == run_id)).all()
    return [RunCalls(r.run_id, int(r.calls), int(r.succeeded)) for r in rows]

"""The quality report's tables: the newest stored session it reports up to, and the
replace-by-as-of write of ``quality_scores`` and ``quality_runs``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema


def latest_price_date(engine: sa.Engine) -> pd.Timestamp | None:
    """The newest stored price session, or None with no prices."""
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(schema.prices.c.date))).scalar()
    return None if last is None else pd.Timestamp(last)


def replace_quality_report(engine: sa.Engine, as_of: dt.date, scores: Sequence[Mapping[str, Any]], run: Mapping[str, Any],
                           checks: Sequence[Mapping[str, Any]] = ()) -> int:
    """In one transaction: replace the scores of ``as_of``, its run row (the trend keeps one
    row per as-of date) and its checks' figures. Returns the number of score rows written."""
    with engine.begin() as conn:
        conn.execute(schema.quality_run_checks.delete().where(schema.quality_run_checks.c.as_of == as_of))
        if checks:
            conn.execute(schema.quality_run_checks.insert(), [dict(r, as_of=as_of) for r in checks])
        conn.execute(schema.quality_scores.delete().where(schema.quality_scores.c.as_of == as_of))
        if scores:
            conn.execute(schema.quality_scores.insert(), [dict(r, as_of=as_of) for r in scores])
        conn.execute(schema.quality_runs.delete().where(schema.quality_runs.c.as_of == as_of))
        conn.execute(schema.quality_runs.insert().values(**dict(run, as_of=as_of)))
    return len(scores)

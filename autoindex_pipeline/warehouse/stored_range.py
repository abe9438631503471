"""The span of stored prices, for commands that default their range to what is stored."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema


def first_price_session(engine: sa.Engine) -> dt.date | None:
    """The first session with a stored price row (None: the warehouse holds no prices)."""
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(schema.prices.c.date))).scalar()
    return None if first is None else pd.Timestamp(first).date()

"""Price overrides and the quality audit trail: every repair or override is recorded with
who, when and why, in the same transaction as the change it describes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres

ACTIONS = ("exclude", "accept")


def _audit(conn: sa.Connection, who: str, action: str, reason: str, symbols: Sequence[str] | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None) -> None:
    conn.execute(schema.quality_audit.insert().values(
        at=dt.datetime.now(dt.UTC), who=who, action=action, reason=reason,
        symbols=",".join(symbols) if symbols else None, date_from=date_from, date_to=date_to,
    ))


def set_override(engine: sa.Engine, symbol: str, date: dt.date, action: str, reason: str, who: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    if not reason.strip():
        raise ValueError("an override needs a reason")
    table = schema.price_overrides
    values = {"symbol": symbol.upper(), "date": date, "action": action, "reason": reason, "created_by": who,
              "created_at": dt.datetime.now(dt.UTC)}
    if is_postgres(engine):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c.symbol, table.c.date],
                                      set_={k: stmt.excluded[k] for k in ("action", "reason", "created_by", "created_at")})
    with engine.begin() as conn:
        conn.execute(stmt)
        _audit(conn, who, f"override_{action}", reason, [symbol.upper()], date, date)


def remove_override(engine: sa.Engine, symbol: str, date: dt.date, reason: str, who: str) -> bool:
    table = schema.price_overrides
    with engine.begin() as conn:
        removed = conn.execute(table.delete().where(table.c.symbol == symbol.upper(), table.c.date == date)).rowcount
        if removed:
            _audit(conn, who, "override_removed", reason, [symbol.upper()], date, date)
    return bool(removed)


def record_repair(engine: sa.Engine, who: str, action: str, reason: str, symbols: Sequence[str] | None,
                  date_from: dt.date | None, date_to: dt.date | None) -> None:
    """A repair that is not an override (a targeted refresh re-fetching flagged rows)."""
    with engine.begin() as conn:
        _audit(conn, who, action, reason, symbols, date_from, date_to)


def read_audit(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(sa.select(schema.quality_audit).order_by(schema.quality_audit.c.id), conn)


def read_overrides(engine: sa.Engine) -> pd.DataFrame:
    table = schema.price_overrides
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table), conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame

"""Price overrides and the quality audit trail: every repair or override is recorded with
who, when and why, in the same transaction as the change it describes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres
from autoindex_pipeline.warehouse.gate import latest_rejection, resolve_by_override
from autoindex_pipeline.warehouse.locks import serialize_writers
from autoindex_pipeline.warehouse.revisions import record_price_row

ACTIONS = ("exclude", "accept")


def _audit(conn: sa.Connection, who: str, action: str, reason: str, symbols: Sequence[str] | None = None,
           date_from: dt.date | None = None, date_to: dt.date | None = None) -> None:
    conn.execute(schema.quality_audit.insert().values(
        at=dt.datetime.now(dt.UTC), who=who, action=action, reason=reason,
        symbols=",".join(symbols) if symbols else None, date_from=date_from, date_to=date_to,
    ))


def set_override(engine: sa.Engine, symbol: str, date: dt.date, action: str, reason: str, who: str) -> OverrideEffect:
    """Record a reviewed price row, in one transaction with what it settles: the row's open
    blocking verdicts are resolved, and ``accept`` of a refused delivery puts that delivery into
    `prices` (the analyst says the print is genuine), replacing the stored row if any."""
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
        serialize_writers(conn, "prices")
        conn.execute(stmt)
        _audit(conn, who, f"override_{action}", reason, [symbol.upper()], date, date)
        resolved = resolve_by_override(conn, symbol.upper(), date, action, who)
        promoted = _promote_refused(conn, symbol.upper(), date) if action == "accept" else False
    return OverrideEffect(resolved, promoted)


@dataclass(frozen=True)
class OverrideEffect:
    verdicts_resolved: int
    refused_row_promoted: bool


def _promote_refused(conn: sa.Connection, symbol: str, date: dt.date) -> bool:
    refused = latest_rejection(conn, symbol, date)
    if refused is None:
        return False
    prices = schema.prices
    values = {**{k: refused[k] for k in ("open", "high", "low", "close", "volume", "source")}, "adj_close": None}
    now = dt.datetime.now(dt.UTC)
    conn.execute(prices.delete().where(prices.c.symbol == symbol, prices.c.date == date))
    conn.execute(prices.insert().values(symbol=symbol, date=date, **values, ingested_at=now))
    # The promoted value is a new value of the key like any delivery's (as-of reads see it from now).
    record_price_row(conn, symbol, date, values, now)
    return True


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

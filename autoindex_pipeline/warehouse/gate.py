"""The quality gate's rows: refused price rows, blocking verdicts, known absences.

A refused row and its verdicts are written in the same transaction as the accepted rows of the
run (``load.replace_prices`` takes them), so a killed run leaves neither half behind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres

OPEN, RESOLVED = "open", "resolved"
ABSENCE_KINDS = ("halt", "delisted", "no_data")


def _insert(conn: sa.Connection):
    if is_postgres(conn.engine):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _upsert(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame) -> None:
    """Insert ``rows`` (every column of ``table``), replacing rows with the same primary key."""
    columns = [c.name for c in table.columns]
    keys = [c.name for c in table.primary_key.columns]
    records = rows.loc[:, columns].astype(object).where(rows.loc[:, columns].notna(), None).to_dict("records")
    stmt = _insert(conn)(table)
    stmt = stmt.on_conflict_do_update(index_elements=keys, set_={c: stmt.excluded[c] for c in columns if c not in keys})
    conn.execute(stmt, records)


def record_refusals(conn: sa.Connection, refused: pd.DataFrame, verdicts: pd.DataFrame, run_id: str) -> None:
    """Inside the run's write transaction: keep each refused row's values, and open (or re-open)
    a verdict per (symbol, date, check). ``refused``: symbol, date, open..volume, source, checks,
    reason, replaced_nothing. ``verdicts``: symbol, date, check_name, severity, value, reason."""
    now = _now()
    if len(refused):
        _upsert(conn, schema.price_rejections,
                refused.assign(date=pd.to_datetime(refused["date"]).dt.date, run_id=run_id, recorded_at=now))
    if len(verdicts):
        _upsert(conn, schema.quality_verdicts, verdicts.assign(
            date=pd.to_datetime(verdicts["date"]).dt.date, run_id=run_id, recorded_at=now, status=OPEN,
            resolution=None, resolved_at=None, resolved_run_id=None,
        ))


def resolve_accepted(conn: sa.Connection, accepted: pd.DataFrame, run_id: str) -> int:
    """Inside the run's write transaction: a newly delivered row of (symbol, date) passed every
    blocking check, so its open verdicts are resolved. Returns how many were."""
    table = schema.quality_verdicts
    if accepted.empty:
        return 0
    keys = accepted.loc[:, ["symbol", "date"]].drop_duplicates()
    lo, hi = pd.Timestamp(keys["date"].min()).date(), pd.Timestamp(keys["date"].max()).date()
    open_rows = conn.execute(
        sa.select(table.c.symbol, table.c.date).where(
            table.c.status == OPEN, table.c.date.between(lo, hi), table.c.symbol.in_(sorted(set(keys["symbol"])))
        )
    ).all()
    if not open_rows:
        return 0
    wanted = set(zip(keys["symbol"].astype(str), pd.to_datetime(keys["date"]).dt.date))
    hits = [(s, d) for s, d in open_rows if (s, d) in wanted]
    for symbol, date in set(hits):
        conn.execute(
            table.update()
            .where(table.c.symbol == symbol, table.c.date == date, table.c.status == OPEN)
            .values(status=RESOLVED, resolution="a later delivery passed", resolved_at=_now(), resolved_run_id=run_id)
        )
    return len(hits)


def resolve_by_override(conn: sa.Connection, symbol: str, date: dt.date, action: str, who: str) -> int:
    table = schema.quality_verdicts
    return conn.execute(
        table.update()
        .where(table.c.symbol == symbol, table.c.date == date, table.c.status == OPEN)
        .values(status=RESOLVED, resolution=f"override {action} by {who}", resolved_at=_now())
    ).rowcount or 0


def latest_rejection(conn: sa.Connection, symbol: str, date: dt.date) -> dict | None:
    table = schema.price_rejections
    row = conn.execute(
        sa.select(table).where(table.c.symbol == symbol, table.c.date == date).order_by(table.c.recorded_at.desc()).limit(1)
    ).mappings().first()
    return dict(row) if row else None


def read_open_verdicts(engine: sa.Engine, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    table = schema.quality_verdicts
    stmt = sa.select(table).where(table.c.status == OPEN)
    if start is not None:
        stmt = stmt.where(table.c.date >= start)
    if end is not None:
        stmt = stmt.where(table.c.date <= end)
    with engine.connect() as conn:
        frame = pd.read_sql(stmt.order_by(table.c.date, table.c.symbol, table.c.check_name), conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    return frame


def read_first_closes(engine: sa.Engine, symbols: Sequence[str]) -> pd.Series:
    """symbol -> first session with a valid stored close (NaT when none)."""
    table = schema.prices
    stmt = (
        sa.select(table.c.symbol, sa.func.min(table.c.date))
        .where(table.c.close > 0, table.c.symbol.in_(list(symbols)))
        .group_by(table.c.symbol)
    )
    with engine.connect() as conn:
        found = dict(conn.execute(stmt).all())
    return pd.Series({s: pd.Timestamp(found[s]) if s in found else pd.NaT for s in symbols}, dtype="datetime64[ns]")


def read_absences(engine: sa.Engine, symbols: Sequence[str] | None = None) -> pd.DataFrame:
    table = schema.price_absences
    stmt = sa.select(table).order_by(table.c.symbol, table.c.date_from)
    if symbols is not None:
        stmt = stmt.where(table.c.symbol.in_(list(symbols)))
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    for column in ("date_from", "date_to"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def record_absence(engine: sa.Engine, symbol: str, date_from: dt.date, date_to: dt.date | None, kind: str,
                   reason: str, who: str) -> None:
    """An audited known absence (halt, delisting...), with its quality-audit row."""
    if kind not in ABSENCE_KINDS:
        raise ValueError(f"kind must be one of {', '.join(ABSENCE_KINDS)}, not {kind!r}")
    if not reason.strip():
        raise ValueError("an absence needs a reason")
    if date_to is not None and date_to < date_from:
        raise ValueError(f"the absence ends ({date_to}) before it starts ({date_from})")
    now = _now()
    with engine.begin() as conn:
        conn.execute(schema.price_absences.insert().values(
            symbol=symbol.upper(), date_from=date_from, date_to=date_to, kind=kind, reason=reason,
            created_by=who, created_at=now,
        ))
        conn.execute(schema.quality_audit.insert().values(
            at=now, who=who, action=f"absence_{kind}", reason=reason, symbols=symbol.upper(),
            date_from=date_from, date_to=date_to,
        ))


def read_stored_keys(engine: sa.Engine, keys: Sequence[tuple[str, dt.date]]) -> set[tuple[str, dt.date]]:
    """Which of these (symbol, date) keys have a stored price row."""
    if not keys:
        return set()
    table = schema.prices
    found: set[tuple[str, dt.date]] = set()
    with engine.connect() as conn:
        for lo in range(0, len(keys), 500):
            chunk = list(keys[lo : lo + 500])
            rows = conn.execute(sa.select(table.c.symbol, table.c.date).where(sa.tuple_(table.c.symbol, table.c.date).in_(chunk)))
            found.update((s, d) for s, d in rows)
    return found

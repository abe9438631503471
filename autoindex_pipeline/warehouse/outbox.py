"""The alert outbox table: record alerts once, hand out the due ones, keep each one's delivery
state. Sensors record (a fast local write); the `deliver_alerts` sensor drains.

An alert is stored once per dedup key (the primary key). A key recorded again is ignored, unless
it comes back more severe than stored: then it is re-opened at the new severity and sent again
to every channel (a warning that became critical is news, and may now page by email).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from autoindex_pipeline.domain.alerts import DEAD, PENDING, SENT, Alert, severity_rank
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import is_postgres

T = schema.alert_outbox


@dataclass(frozen=True)
class OutboxRow:
    alert: Alert
    status: str
    attempts: int
    delivered: frozenset[str]
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None

    @property
    def dedup_key(self) -> str:
        return self.alert.dedup_key


@dataclass(frozen=True)
class Recorded:
    new: int
    escalated: int


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # SQLite hands DateTime(timezone=True) back naive; everything written here is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _row(r: sa.Row) -> OutboxRow:
    return OutboxRow(
        alert=Alert.from_dict(json.loads(r.alert)),
        status=r.status,
        attempts=int(r.attempts),
        delivered=frozenset(c for c in r.delivered.split(",") if c),
        created_at=_aware(r.created_at),
        next_attempt_at=_aware(r.next_attempt_at),
        sent_at=_aware(r.sent_at),
        last_error=r.last_error,
    )


def _insert(conn: sa.Connection):
    if is_postgres(conn.engine):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _fresh(alert: Alert, now: dt.datetime) -> dict:
    return {
        "alert": json.dumps(alert.to_dict(), sort_keys=True), "severity": alert.severity, "status": PENDING,
        "attempts": 0, "last_error": None, "next_attempt_at": now, "sent_at": None, "delivered": "",
    }


def record(engine: sa.Engine, alerts: Iterable[Alert], now: dt.datetime) -> Recorded:
    """Store each new alert as pending (due at ``now``); see the module docstring for a key
    that is already there. One transaction."""
    batch: dict[str, Alert] = {}
    for alert in alerts:
        held = batch.get(alert.dedup_key)
        if held is None or severity_rank(alert.severity) > severity_rank(held.severity):
            batch[alert.dedup_key] = alert
    if not batch:
        return Recorded(0, 0)
    new = escalated = 0
    with engine.begin() as conn:
        stored = dict(conn.execute(sa.select(T.c.dedup_key, T.c.severity).where(T.c.dedup_key.in_(list(batch)))).all())
        fresh = [{"dedup_key": k, "created_at": now, **_fresh(a, now)} for k, a in batch.items() if k not in stored]
        if fresh:
            # ON CONFLICT: a concurrent recorder of the same key wins, this one is a no-op.
            conn.execute(_insert(conn)(T).on_conflict_do_nothing(index_elements=["dedup_key"]), fresh)
            new = len(fresh)
        for key, alert in batch.items():
            if key in stored and severity_rank(alert.severity) > severity_rank(stored[key]):
                conn.execute(T.update().where(T.c.dedup_key == key).values(**_fresh(alert, now)))
                escalated += 1
    return Recorded(new, escalated)


def due(engine: sa.Engine, now: dt.datetime, limit: int = 50) -> list[OutboxRow]:
    """Pending alerts whose next attempt is due, most severe first, then oldest first."""
    rank = sa.case({"critical": 0, "warning": 1}, value=T.c.severity, else_=2)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(T).where(T.c.status == PENDING, T.c.next_attempt_at <= now)
            .order_by(rank, T.c.created_at, T.c.dedup_key).limit(limit)
        ).all()
    return [_row(r) for r in rows]


def mark_sent(engine: sa.Engine, key: str, delivered: Iterable[str], attempts: int, now: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(T.update().where(T.c.dedup_key == key).values(
            status=SENT, attempts=attempts, delivered=",".join(sorted(delivered)), sent_at=now,
            next_attempt_at=None, last_error=None,
        ))


def mark_failed(
    engine: sa.Engine,
    key: str,
    *,
    status: str,
    attempts: int,
    delivered: Iterable[str],
    error: str,
    next_attempt_at: dt.datetime | None,
) -> None:
    """After a failed attempt: still pending (with its next attempt time) or dead."""
    with engine.begin() as conn:
        conn.execute(T.update().where(T.c.dedup_key == key).values(
            status=status, attempts=attempts, delivered=",".join(sorted(delivered)),
            last_error=error[:2000], next_attempt_at=next_attempt_at,
        ))


def rows(engine: sa.Engine, statuses: Sequence[str] = (PENDING, SENT, DEAD)) -> list[OutboxRow]:
    """Every row with one of ``statuses``, oldest first (operators, tests)."""
    with engine.connect() as conn:
        result = conn.execute(sa.select(T).where(T.c.status.in_(list(statuses))).order_by(T.c.created_at, T.c.dedup_key))
        return [_row(r) for r in result.all()]


def counts(engine: sa.Engine) -> dict[str, int]:
    """Rows per status."""
    with engine.connect() as conn:
        return {s: int(n) for s, n in conn.execute(sa.select(T.c.status, sa.func.count()).group_by(T.c.status)).all()}


def requeue_dead(engine: sa.Engine, now: dt.datetime, keys: Sequence[str] | None = None) -> int:
    """Give dead-lettered alerts (all, or ``keys``) a fresh set of attempts, due at ``now``;
    channels that already have an alert are not sent it again."""
    where = [T.c.status == DEAD] + ([T.c.dedup_key.in_(list(keys))] if keys else [])
    with engine.begin() as conn:
        result = conn.execute(T.update().where(*where).values(status=PENDING, attempts=0, next_attempt_at=now))
        return int(result.rowcount or 0)

"""Drain the alert outbox: deliver the due alerts within a time budget, one bounded attempt per
channel, and write back what happened (sent, retry later with backoff, or dead-lettered).

Why this is separate from the sensors that find alerts: a channel that hangs (a webhook that
accepts and never answers) or is dead (an SMTP relay down) used to cost each finding sensor its
whole tick, until Dagster's 60 s sensor deadline failed the tick, the cursor was never saved and
the same alert was retried every minute. Here the cost is bounded three ways:

* each channel gets ONE attempt per drain, with its timeout capped at ``channel_timeout``;
  retries are the outbox's (``next_attempt_at``, :class:`~autoindex_pipeline.domain.alerts.RetrySchedule`),
  not sleeps inside a tick;
* a channel that failed once in a drain is not tried again in that drain (the other alerts wait
  for the next one instead of each paying the same timeout);
* a new alert is started only while the worst case of its channels still fits in ``budget``.

Exactly once: each channel that took an alert is written to the row (``delivered``), so a retry
goes only to the channels still missing, and a sent row is never handed out again. The one
window left is a crash between a channel's answer and the row's update: that channel may get the
alert twice, never zero times.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autoindex_pipeline.alerting.notifier import Notifier
from autoindex_pipeline.config import NotifierSettings
from autoindex_pipeline.domain.alerts import DEAD, RetrySchedule
from autoindex_pipeline.warehouse import outbox

if TYPE_CHECKING:
    import sqlalchemy as sa

logger = logging.getLogger(__name__)

TICK_BUDGET_SECONDS = 30.0
"""Half of Dagster's 60 s sensor deadline: room for the database round trips around it."""
CHANNEL_TIMEOUT_SECONDS = 5.0
"""Cap on one channel's socket timeout inside a drain (the configured value, if lower, wins)."""
PHASES_PER_ATTEMPT = 2
"""A stalled attempt can wait out its timeout twice (connect, then the answer)."""
DEFAULT_SCHEDULE = RetrySchedule()


def bounded_settings(settings: NotifierSettings, channel_timeout: float = CHANNEL_TIMEOUT_SECONDS) -> NotifierSettings:
    """The configured routing with one attempt per channel and capped timeouts."""
    update: dict[str, object] = {
        "slack_max_attempts": 1,
        "slack_timeout_seconds": min(settings.slack_timeout_seconds, channel_timeout),
    }
    if settings.email is not None:
        update["email"] = settings.email.model_copy(
            update={"max_attempts": 1, "timeout_seconds": min(settings.email.timeout_seconds, channel_timeout)}
        )
    return settings.model_copy(update=update)


@dataclass
class DrainReport:
    sent: list[str] = field(default_factory=list)
    retrying: dict[str, str] = field(default_factory=dict)
    dead: dict[str, str] = field(default_factory=dict)
    deferred: list[str] = field(default_factory=list)
    """Due alerts left for the next drain: out of budget, or waiting on a channel that failed
    earlier in this drain."""
    down: set[str] = field(default_factory=set)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{len(self.sent)} sent, {len(self.retrying)} to retry, {len(self.dead)} dead-lettered, "
                f"{len(self.deferred)} deferred in {self.seconds:.1f}s"
                + (f" (failing: {', '.join(sorted(self.down))})" if self.down else ""))


def drain(
    engine: sa.Engine,
    settings: NotifierSettings,
    *,
    now: dt.datetime | None = None,
    budget_seconds: float = TICK_BUDGET_SECONDS,
    channel_timeout: float = CHANNEL_TIMEOUT_SECONDS,
    schedule: RetrySchedule = DEFAULT_SCHEDULE,
    limit: int = 50,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DrainReport:
    """Deliver the due alerts (most severe first); see the module docstring."""
    started = clock()
    now = now or dt.datetime.now(dt.UTC)
    bounded = bounded_settings(settings, channel_timeout)
    notifier = Notifier(bounded, environ=environ, clock=clock)
    report = DrainReport()
    for row in outbox.due(engine, now, limit):
        alert = row.alert
        missing = [c for c in notifier.channels_for(alert) if c not in row.delivered]
        blocked = [c for c in missing if c in report.down]
        to_try = [c for c in missing if c not in report.down]
        worst = PHASES_PER_ATTEMPT * channel_timeout * sum(c != "log" for c in to_try)
        if blocked or clock() - started + worst > budget_seconds:
            report.deferred.append(alert.dedup_key)
            continue
        result = notifier.send(alert, channels=to_try)
        delivered = set(row.delivered) | set(result.delivered_to)
        errors = {c: d for c, d in result.errors.items() if c in to_try}
        attempts = row.attempts + 1
        if not errors:
            outbox.mark_sent(engine, alert.dedup_key, delivered, attempts, now)
            report.sent.append(alert.dedup_key)
            continue
        report.down |= set(errors)
        error = "; ".join(f"{c}: {d}" for c, d in sorted(errors.items()))
        status, next_at = schedule.after_failure(attempts, now)
        outbox.mark_failed(engine, alert.dedup_key, status=status, attempts=attempts, delivered=delivered,
                           error=error, next_attempt_at=next_at)
        if status == DEAD:
            logger.error("alert %s dead-lettered after %d attempts: %s", alert.dedup_key, attempts, error)
            report.dead[alert.dedup_key] = error
        else:
            report.retrying[alert.dedup_key] = error
    report.seconds = clock() - started
    return report

"""When an alert that could not be delivered is tried again, and when it is given up on.

Delivery happens outside the sensors that find alerts (they only record them in the outbox), so
a dead channel costs one bounded attempt per retry, never a sensor tick. The waits double from
``base`` up to ``cap``; after ``max_attempts`` failed attempts the alert is dead-lettered (kept,
with its last error, for an operator) instead of being tried forever.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PENDING, SENT, DEAD = "pending", "sent", "dead"
STATUSES = (PENDING, SENT, DEAD)


@dataclass(frozen=True)
class RetrySchedule:
    base: dt.timedelta = dt.timedelta(minutes=1)
    cap: dt.timedelta = dt.timedelta(hours=1)
    max_attempts: int = 8
    """1 + 2 + 4 + ... capped at an hour: eight attempts span about two hours, long enough to
    ride out a Slack or mail-relay incident, short enough that a dead letter is still news."""

    def wait(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based)."""
        if attempts < 1:
            raise ValueError("attempts counts failed attempts, from 1")
        return min(self.base * (2 ** (attempts - 1)), self.cap)

    def after_failure(self, attempts: int, now: dt.datetime) -> tuple[str, dt.datetime | None]:
        """(new status, next attempt time) after the ``attempts``-th failed attempt at ``now``."""
        if attempts >= self.max_attempts:
            return DEAD, None
        return PENDING, now + self.wait(attempts)

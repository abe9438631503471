"""The dedup ledger a sensor keeps in its cursor: which alert keys it already recorded."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from autoindex_pipeline.domain.alerts.model import Alert, severity_rank, utc

logger = logging.getLogger(__name__)



CURSOR_VERSION = 1


@dataclass(frozen=True)
class _Entry:
    key: str
    sent_at: str  # ISO 8601 UTC, seconds
    severity: str


class AlertLedger:
    """Which dedup keys were already sent, kept in a sensor cursor (a JSON string).

    ``process(cursor, alerts, now)`` returns ``(alerts_to_send, new_cursor)``:

    * a key not in the cursor is sent and remembered with ``now`` and its severity;
    * a known key is suppressed, unless it comes with a higher severity than was sent
      (escalation), or ``refire_after`` is set and the key was last sent longer ago than that;
    * several alerts with one key in the same batch are sent once (the most severe);
    * the cursor keeps only the ``max_keys`` most recently sent keys, so it stays small; a key
      pushed out would fire again if the event were still reported, which is why rules are fed
      recent events only (``since``, a day in the key).

    The cursor is canonical JSON (sorted, compact), so ``process(c, [])[1] == c`` for any cursor
    this class wrote. An unreadable cursor is logged and treated as empty (a sensor must not be
    stuck forever on a bad cursor; at worst a few alerts are sent twice).

    Persist the new cursor *after* handing the alerts to the notifier (which never raises):
    then a crash in between re-sends rather than loses an alert.
    """

    def __init__(self, max_keys: int = 500, refire_after: dt.timedelta | None = None) -> None:
        if max_keys <= 0:
            raise ValueError("max_keys must be positive")
        self.max_keys = int(max_keys)
        self.refire_after = refire_after

    # -- cursor <-> entries

    @staticmethod
    def _load(cursor: str | None) -> dict[str, _Entry]:
        if not cursor:
            return {}
        try:
            data = json.loads(cursor)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                raise ValueError("unknown cursor version")
            entries = {}
            for key, sent_at, severity in data["keys"]:
                severity_rank(severity)
                entries[str(key)] = _Entry(str(key), str(sent_at), str(severity))
            return entries
        except (ValueError, TypeError, KeyError) as exc:
            logger.warning("alert ledger: ignoring an unreadable cursor (%s); starting empty", exc)
            return {}

    def _dump(self, entries: Mapping[str, _Entry]) -> str:
        ordered = sorted(entries.values(), key=lambda e: (e.sent_at, e.key))[-self.max_keys :]
        payload = {"v": CURSOR_VERSION, "keys": [[e.key, e.sent_at, e.severity] for e in ordered]}
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @staticmethod
    def _stamp(now: dt.datetime | pd.Timestamp | None) -> str:
        ts = pd.Timestamp.now(tz="UTC") if now is None else utc(now)
        return ts.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- public

    def keys(self, cursor: str | None) -> list[str]:
        """The remembered keys, oldest first."""
        return [e.key for e in sorted(self._load(cursor).values(), key=lambda e: (e.sent_at, e.key))]

    def process(
        self,
        cursor: str | None,
        alerts: Iterable[Alert],
        now: dt.datetime | pd.Timestamp | None = None,
    ) -> tuple[list[Alert], str]:
        entries = self._load(cursor)
        stamp = self._stamp(now)
        # The most severe alert per key in this batch, in first-seen order.
        batch: dict[str, Alert] = {}
        for alert in alerts:
            held = batch.get(alert.dedup_key)
            if held is None or severity_rank(alert.severity) > severity_rank(held.severity):
                batch[alert.dedup_key] = alert
        to_send = []
        for key, alert in batch.items():
            known = entries.get(key)
            if known is not None:
                escalated = severity_rank(alert.severity) > severity_rank(known.severity)
                due = self.refire_after is not None and utc(stamp) - utc(known.sent_at) >= self.refire_after
                if not (escalated or due):
                    continue
            to_send.append(alert)
            entries[key] = _Entry(key, stamp, alert.severity)
        return to_send, self._dump(entries)

    def resolve(self, cursor: str | None, keys: Iterable[str] = (), *, prefix: str | None = None) -> str:
        """Forget ``keys`` (and every key starting with ``prefix``) so their next occurrence
        fires again: call it when a check passes again or a provider recovers."""
        entries = self._load(cursor)
        drop = set(keys)
        kept = {k: e for k, e in entries.items() if k not in drop and not (prefix and k.startswith(prefix))}
        return self._dump(kept)

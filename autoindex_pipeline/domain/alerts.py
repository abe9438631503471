"""Alert rules (methodology section 11) and the dedup ledger a sensor keeps in its cursor.

Pure: no I/O, no clock (``now`` is always a parameter), no Dagster. Each rule returns a list of
:class:`Alert` (empty when nothing is wrong) so a sensor can concatenate the rules' outputs,
pass them through :class:`AlertLedger` and hand what is new to the notifier.

Severities are ``info`` < ``warning`` < ``critical``. Every alert carries a **dedup key** that
names the *event*, not the observation: the same event seen by every sensor tick has the same
key and is sent once; a new event (a new date, a new failed run, a new stale spell) has a new
key. Keys are built from the inputs only, never from a clock or a run counter, so they are
stable across processes and restarts:

=====================  ==============================================  ==========================
rule                   key                                             one event is
=====================  ==============================================  ==========================
daily drop             ``daily_drop:{strategy}:{date}``                one index session
stale prices           ``stale_prices:{asset}:{expected_session}``     a session not yet loaded
stale news             ``stale_news:{asset}:{newest article time}``    one silent spell of the feed
news inactivity        ``news_inactivity:{asset}:{day}``               one day (New York date)
failed check           ``check:{asset}:{check}:{partition}``           a check failing on a partition
run failure            ``run_failure:{job}:{run_id}``                  one failed run
provider success       ``provider_success:{provider}:{day}``           one day of a degraded provider
=====================  ==============================================  ==========================

The ledger also re-sends a known key when it comes back with a *higher* severity (a warning that
became critical is news); the same or a lower severity is suppressed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

import pandas as pd

from autoindex_pipeline.domain.calendar import DEFAULT_CALENDAR, EXCHANGE_TIMEZONE, sessions_between

logger = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[str, ...] = ("info", "warning", "critical")
_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}

DAILY_DROP_TOLERANCE = 1e-12
"""A return within this of the threshold counts as reaching it: index returns are ratios of
levels, so an exact -1.00% day can come out as -0.0099999999999998."""


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for critical; ValueError otherwise."""
    try:
        return _RANK[severity]
    except KeyError:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, not {severity!r}") from None


def at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` is ``minimum`` or more severe."""
    return severity_rank(severity) >= severity_rank(minimum)


def run_url(base_url: str, run_id: str) -> str:
    """The run's page in the Dagster UI: ``{base_url}/runs/{run_id}``."""
    return f"{base_url.rstrip('/')}/runs/{run_id}"


@dataclass(frozen=True)
class Alert:
    """One alert, ready for the notifier.

    ``asset`` / ``partition`` name what the alert is about (a table or job, and a date key),
    ``figure`` the number that fired it, already formatted (``"-1.23%"``), ``run_url`` a link
    to the run in the Dagster UI. ``run_id`` lets the notifier build that link from its own
    ``ui_base_url`` when the rule did not know the UI address.
    """

    kind: str
    severity: Severity
    dedup_key: str
    title: str
    message: str
    asset: str | None = None
    partition: str | None = None
    figure: str | None = None
    run_url: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        severity_rank(self.severity)
        if not self.dedup_key:
            raise ValueError("an alert needs a non-empty dedup_key")

    def with_run_url(self, base_url: str | None) -> Alert:
        """This alert with ``run_url`` filled from ``base_url`` and ``run_id`` when missing."""
        if self.run_url or not self.run_id or not base_url:
            return self
        return replace(self, run_url=run_url(base_url, self.run_id))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# --------------------------------------------------------------------------------------------
# Helpers


def _day(value: Any) -> dt.date:
    return pd.Timestamp(value).date()


def _utc(value: dt.datetime | pd.Timestamp | str) -> pd.Timestamp:
    """A timezone-aware UTC timestamp; a naive value is taken to be UTC already."""
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _pct(x: float) -> str:
    return f"{x:+.2%}"


# --------------------------------------------------------------------------------------------
# Rules


def daily_drop_alerts(
    index_daily: pd.DataFrame,
    threshold: float = -0.01,
    *,
    strategy: str = "default",
    since: dt.date | str | pd.Timestamp | None = None,
    asset: str = "index_values",
) -> list[Alert]:
    """An alert per index session whose daily return reached the drop threshold.

    ``index_daily``: rows with ``date`` and ``daily_return`` (NaN on the base date is ignored),
    optionally ``strategy`` (else every row is ``strategy``) and ``level``. A return
    ``<= threshold`` is a **warning**, ``<= 2 * threshold`` **critical** (default -1% / -2%);
    "reaching" allows :data:`DAILY_DROP_TOLERANCE` for floating-point rounding, so -1.00% fires
    and -0.99% does not. ``since`` keeps only sessions on or after it (a sensor passes the last
    few sessions, not the whole history). Ordered by date, then strategy.
    """
    if not threshold < 0:
        raise ValueError(f"threshold must be negative (a drop), not {threshold}")
    if index_daily is None or index_daily.empty:
        return []
    frame = index_daily.copy()
    if "strategy" not in frame.columns:
        frame["strategy"] = strategy
    frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    if since is not None:
        frame = frame[frame["date"] >= pd.Timestamp(since).normalize()]
    returns = pd.to_numeric(frame["daily_return"], errors="coerce")
    hits = frame[returns.le(threshold + DAILY_DROP_TOLERANCE)].sort_values(["date", "strategy"])
    alerts = []
    for row in hits.itertuples(index=False):
        r = float(row.daily_return)
        critical = r <= 2 * threshold + DAILY_DROP_TOLERANCE
        severity: Severity = "critical" if critical else "warning"
        limit = 2 * threshold if critical else threshold
        day = row.date.date().isoformat()
        level = getattr(row, "level", None)
        level_text = f" to {float(level):.2f}" if level is not None and not pd.isna(level) else ""
        alerts.append(
            Alert(
                kind="daily_drop",
                severity=severity,
                dedup_key=f"daily_drop:{row.strategy}:{day}",
                title=f"Index '{row.strategy}' fell {abs(r):.2%} on {day}",
                message=(
                    f"The '{row.strategy}' index returned {_pct(r)} on {day}{level_text}, "
                    f"at or below the {severity} threshold of {_pct(limit)}."
                ),
                asset=asset,
                partition=day,
                figure=_pct(r),
            )
        )
    return alerts


def stale_prices_alert(
    last_price_session: dt.date | str | pd.Timestamp | None,
    expected_session: dt.date | str | pd.Timestamp,
    sessions_behind_allowed: int = 1,
    *,
    critical_after_sessions: int = 5,
    calendar: str = DEFAULT_CALENDAR,
    asset: str = "prices",
) -> list[Alert]:
    """Prices are stale when the newest stored close lags ``expected_session`` (the newest
    session whose close should be loaded, e.g. ``calendar.last_closed_session(now)``) by more
    than ``sessions_behind_allowed`` sessions (config ``prices.stale_after_sessions``).

    The lag counts exchange sessions strictly after the newest close up to and including the
    expected one, so weekends and holidays never count. Warning when stale; critical from
    ``critical_after_sessions`` sessions behind (a week: the index cannot move) or when no
    price is stored at all. One alert per expected session while it stays stale.
    """
    expected = pd.Timestamp(expected_session).normalize()
    key = f"stale_prices:{asset}:{expected.date().isoformat()}"
    if last_price_session is None:
        return [
            Alert(
                kind="stale_prices",
                severity="critical",
                dedup_key=key,
                title=f"No prices stored in '{asset}'",
                message=f"'{asset}' holds no close at all; the session {expected.date()} is expected.",
                asset=asset,
                partition=expected.date().isoformat(),
                figure="no data",
            )
        ]
    last = pd.Timestamp(last_price_session).normalize()
    behind = 0 if last >= expected else len(sessions_between(last + pd.Timedelta(days=1), expected, calendar))
    if behind <= sessions_behind_allowed:
        return []
    severity: Severity = "critical" if behind >= critical_after_sessions else "warning"
    return [
        Alert(
            kind="stale_prices",
            severity=severity,
            dedup_key=key,
            title=f"Prices are {behind} sessions behind",
            message=(
                f"The newest close in '{asset}' is from {last.date()}, {behind} sessions before the expected "
                f"session {expected.date()} (allowed: {sessions_behind_allowed})."
            ),
            asset=asset,
            partition=expected.date().isoformat(),
            figure=f"{behind} sessions behind",
        )
    ]


def stale_news_alert(
    last_article_at: dt.datetime | pd.Timestamp | str | None,
    now: dt.datetime | pd.Timestamp | str,
    is_trading_day: bool,
    max_hours: float = 24,
    *,
    critical_after_hours: float | None = None,
    asset: str = "news_articles",
) -> list[Alert]:
    """The news feed as a whole is stale: the newest stored article (its publication time)
    is more than ``max_hours`` old at ``now``, on a trading day (a quiet weekend is normal).

    Warning; critical from ``critical_after_hours`` (default 3 x ``max_hours``). The key is
    the newest article's time, so one silent spell is one event (it escalates once to critical
    through the ledger) and the next spell, after new articles arrived, is a new one.
    Naive datetimes are taken as UTC.
    """
    if not is_trading_day:
        return []
    now_utc = _utc(now)
    if last_article_at is None:
        return [
            Alert(
                kind="stale_news",
                severity="warning",
                dedup_key=f"stale_news:{asset}:none",
                title=f"No news articles stored in '{asset}'",
                message=f"'{asset}' holds no article at all.",
                asset=asset,
                figure="no data",
            )
        ]
    last = _utc(last_article_at)
    hours = (now_utc - last).total_seconds() / 3600.0
    if hours <= max_hours:
        return []
    critical_after = 3 * max_hours if critical_after_hours is None else critical_after_hours
    severity: Severity = "critical" if hours >= critical_after else "warning"
    stamp = last.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        Alert(
            kind="stale_news",
            severity=severity,
            dedup_key=f"stale_news:{asset}:{stamp}",
            title=f"No news for {hours:.0f} hours",
            message=(
                f"The newest article in '{asset}' was published at {stamp}, {hours:.1f} h ago "
                f"(allowed: {max_hours:g} h on a trading day)."
            ),
            asset=asset,
            figure=f"{hours:.1f} h",
        )
    ]


def news_inactivity_alert(
    last_article_by_symbol: Mapping[str, dt.datetime | pd.Timestamp | str | None],
    now: dt.datetime | pd.Timestamp | str,
    is_trading_day: bool,
    max_hours: float = 24,
    *,
    warn_share: float = 0.5,
    asset: str = "news_sentiment",
    max_listed: int = 20,
) -> list[Alert]:
    """Symbols the index cares about (pass the held constituents) with no article for
    ``max_hours`` on a trading day: their sentiment falls back to 0, so a sentiment tilt has
    nothing to act on for them.

    Where :func:`stale_news_alert` says the *feed* stopped, this says which *symbols* went
    quiet while the feed runs. Info while fewer than ``warn_share`` of the symbols are
    inactive (small caps are often quiet), warning from there on. One alert per New York day
    (the ledger re-sends it if it escalates to a warning later that day).
    """
    if not is_trading_day or not last_article_by_symbol:
        return []
    now_utc = _utc(now)
    horizon = now_utc - pd.Timedelta(hours=max_hours)
    quiet = sorted(
        symbol for symbol, last in last_article_by_symbol.items() if last is None or pd.isna(last) or _utc(last) < horizon
    )
    if not quiet:
        return []
    share = len(quiet) / len(last_article_by_symbol)
    severity: Severity = "warning" if share >= warn_share else "info"
    day = now_utc.tz_convert(EXCHANGE_TIMEZONE).date().isoformat()
    listed = ", ".join(quiet[:max_listed]) + (f" and {len(quiet) - max_listed} more" if len(quiet) > max_listed else "")
    return [
        Alert(
            kind="news_inactivity",
            severity=severity,
            dedup_key=f"news_inactivity:{asset}:{day}",
            title=f"{len(quiet)} of {len(last_article_by_symbol)} symbols had no news for {max_hours:g} h",
            message=f"No article in the last {max_hours:g} h for: {listed}.",
            asset=asset,
            partition=day,
            figure=f"{share:.0%} inactive",
        )
    ]


def failed_check_alert(
    asset: str,
    check_name: str,
    partition: str | None,
    run_id: str | None,
    description: str,
    *,
    blocking: bool = True,
    figure: str | None = None,
    run_url: str | None = None,
) -> list[Alert]:
    """A failed asset check: critical when it is blocking (downstream assets stop), warning
    otherwise. One event per (asset, check, partition); for an unpartitioned asset pass the
    data's as-of date as ``partition`` so tomorrow's failure is a new event."""
    part = partition or "all"
    kind = "blocking" if blocking else "non-blocking"
    where = f" for partition {partition}" if partition else ""
    return [
        Alert(
            kind="failed_check",
            severity="critical" if blocking else "warning",
            dedup_key=f"check:{asset}:{check_name}:{part}",
            title=f"Check '{check_name}' failed on '{asset}'{where}",
            message=f"The {kind} check '{check_name}' on '{asset}'{where} failed: {description}",
            asset=asset,
            partition=partition,
            figure=figure,
            run_url=run_url,
            run_id=run_id,
        )
    ]


def run_failure_alert(
    job: str,
    run_id: str,
    error: str | None,
    *,
    partition: str | None = None,
    severity: Severity = "critical",
    run_url: str | None = None,
    max_error_chars: int = 500,
) -> list[Alert]:
    """A failed run. Every run is its own event (a retry is a new run id). The error text is
    cut to ``max_error_chars``; pass it redacted (it is sent as is)."""
    text = (error or "no error message").strip()
    if len(text) > max_error_chars:
        text = text[: max_error_chars - 1].rstrip() + "…"
    where = f" (partition {partition})" if partition else ""
    return [
        Alert(
            kind="run_failure",
            severity=severity,
            dedup_key=f"run_failure:{job}:{run_id}",
            title=f"Run of '{job}' failed{where}",
            message=f"Run {run_id} of job '{job}'{where} failed: {text}",
            asset=job,
            partition=partition,
            figure="failed",
            run_url=run_url,
            run_id=run_id,
        )
    ]


def provider_success_alert(
    outcomes: Sequence[bool] | Iterable[bool],
    provider: str,
    threshold: float = 0.95,
    window: int = 100,
    *,
    critical_threshold: float = 0.80,
    min_calls: int = 20,
    day: dt.date | str | None = None,
) -> list[Alert]:
    """The provider's success rate over its last ``window`` calls (oldest first in
    ``outcomes``; True = succeeded) is below ``threshold`` (95%): warning; below
    ``critical_threshold``: critical. Exactly 95% is fine. Fewer than ``min_calls`` calls say
    too little (one failed first call is not a 0% provider) and give no alert. Pass ``day``
    (the New York date) so a degradation that lasts reminds once a day."""
    if window <= 0:
        raise ValueError("window must be positive")
    recent = [bool(x) for x in list(outcomes)[-window:]]
    n = len(recent)
    if n < min_calls or n == 0:
        return []
    ok = sum(recent)
    rate = ok / n
    if rate >= threshold:
        return []
    severity: Severity = "critical" if rate < critical_threshold else "warning"
    when = "current" if day is None else _day(day).isoformat()
    return [
        Alert(
            kind="provider_success",
            severity=severity,
            dedup_key=f"provider_success:{provider}:{when}",
            title=f"Provider '{provider}' success rate {rate:.0%}",
            message=(
                f"{ok} of the last {n} calls to '{provider}' succeeded ({rate:.1%}), below the "
                f"{threshold:.0%} target."
            ),
            asset=provider,
            partition=None if day is None else when,
            figure=f"{rate:.1%} ({ok}/{n})",
        )
    ]


# --------------------------------------------------------------------------------------------
# Dedup ledger


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
        ts = pd.Timestamp.now(tz="UTC") if now is None else _utc(now)
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
                due = self.refire_after is not None and _utc(stamp) - _utc(known.sent_at) >= self.refire_after
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

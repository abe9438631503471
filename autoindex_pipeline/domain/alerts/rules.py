"""Rules on the data: index drops, stale prices, a stale or quiet news feed (methodology
section 11). Pure: ``now`` is always a parameter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd

from autoindex_pipeline.domain.alerts.model import Alert, Severity, pct, utc
from autoindex_pipeline.domain.calendar import (
    DEFAULT_CALENDAR,
    EXCHANGE_TIMEZONE,
    is_session,
    last_closed_session,
    sessions_between,
)

DAILY_DROP_TOLERANCE = 1e-12
"""A return within this of the threshold counts as reaching it: index returns are ratios of
levels, so an exact -1.00% day can come out as -0.0099999999999998."""



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
                    f"The '{row.strategy}' index returned {pct(r)} on {day}{level_text}, "
                    f"at or below the {severity} threshold of {pct(limit)}."
                ),
                asset=asset,
                partition=day,
                figure=pct(r),
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
    incident: str | None = None,
) -> list[Alert]:
    """Prices are stale when the newest stored close lags ``expected_session`` (the newest
    session whose close should be loaded, e.g. ``calendar.last_closed_session(now)``) by more
    than ``sessions_behind_allowed`` sessions (config ``prices.stale_after_sessions``).

    The lag counts exchange sessions strictly after the newest close up to and including the
    expected one, so weekends and holidays never count. Warning when stale; critical from
    ``critical_after_sessions`` sessions behind (a week: the index cannot move) or when no
    price is stored at all. One alert per stale spell, keyed by the newest stored close
    (``stale_prices:{asset}:{newest}``): the spell escalates once to critical and ends when a
    newer close is stored. ``incident``: the key of a known cause (the provider's outage,
    :func:`~autoindex_pipeline.domain.alerts.runs.provider_incident_key`): the staleness is that
    incident, not a second one.
    """
    expected = pd.Timestamp(expected_session).normalize()
    newest = "none" if last_price_session is None else pd.Timestamp(last_price_session).date().isoformat()
    key = incident or f"stale_prices:{asset}:{newest}"
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
    lag = f"{behind} session{'' if behind == 1 else 's'}"
    return [
        Alert(
            kind="stale_prices",
            severity=severity,
            dedup_key=key,
            title=f"Prices are {lag} behind",
            message=(
                f"The newest close in '{asset}' is from {last.date()}, {lag} before the expected "
                f"session {expected.date()} (allowed: {sessions_behind_allowed})."
            ),
            asset=asset,
            partition=expected.date().isoformat(),
            figure=f"{lag} behind",
        )
    ]


PRICES_DUE_AFTER_CLOSE = pd.Timedelta(hours=3)
"""How long after a session's close its prices count as due: the prices schedule runs at 18:00
New York, two hours after the regular close, and a run takes minutes. Without it every session
would read as stale between the close and the scheduled fetch."""


def prices_stale_alerts(
    last_price_session: dt.date | str | pd.Timestamp | None,
    now: dt.datetime | pd.Timestamp | str,
    stale_after_sessions: int = 1,
    *,
    calendar: str = DEFAULT_CALENDAR,
    due_after_close: pd.Timedelta = PRICES_DUE_AFTER_CLOSE,
    asset: str = "prices",
    incident: str | None = None,
) -> list[Alert]:
    """Methodology: prices are stale when the newest close is older than
    ``stale_after_sessions`` sessions. With the newest stored close at session S and E the last
    session whose close is due at ``now`` (closed at least ``due_after_close`` ago), the lag is
    the number of sessions in (S, E]; stale from ``stale_after_sessions`` on, so with the
    default of 1, stale as soon as E is after S."""
    if stale_after_sessions < 1:
        raise ValueError("stale_after_sessions must be at least 1")
    expected = last_closed_session(utc(now) - due_after_close, calendar)
    return stale_prices_alert(last_price_session, expected, stale_after_sessions - 1, calendar=calendar, asset=asset,
                              incident=incident)


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
    now_utc = utc(now)
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
    last = utc(last_article_at)
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


def trading_hours_back(now: pd.Timestamp, hours: float, calendar: str = DEFAULT_CALENDAR) -> pd.Timestamp:
    """``now`` minus ``hours``, not counting the New York days that are not sessions (a weekend,
    a holiday): companies make little news then, so "no article for 24 h" on a Monday morning
    means none since Friday morning, not since Sunday morning."""
    horizon = now - pd.Timedelta(hours=hours)
    skipped = 0
    while True:
        days = pd.date_range(horizon.tz_convert(EXCHANGE_TIMEZONE).date(), now.tz_convert(EXCHANGE_TIMEZONE).date())
        closed = sum(1 for d in days if not is_session(d, calendar))
        if closed == skipped:
            return horizon
        horizon -= pd.Timedelta(days=closed - skipped)
        skipped = closed


def news_inactivity_alert(
    last_article_by_symbol: Mapping[str, dt.datetime | pd.Timestamp | str | None],
    now: dt.datetime | pd.Timestamp | str,
    is_trading_day: bool,
    max_hours: float = 24,
    *,
    calendar: str = DEFAULT_CALENDAR,
    feed_silent_at: dt.datetime | pd.Timestamp | str | None = None,
    warn_share: float = 0.5,
    asset: str = "news_sentiment",
    max_listed: int = 20,
) -> list[Alert]:
    """Symbols the index cares about (pass the held constituents) with no article for
    ``max_hours`` on a trading day: their sentiment falls back to 0, so a sentiment tilt has
    nothing to act on for them.

    Where :func:`stale_news_alert` says the *feed* stopped, this says which *symbols* went
    quiet while the feed runs. The ``max_hours`` count trading days only
    (:func:`trading_hours_back`: a quiet weekend is not a quiet symbol). Info while fewer than
    ``warn_share`` of the symbols are
    inactive (small caps are often quiet), warning from there on. One alert per New York day
    (the ledger re-sends it if it escalates to a warning later that day). ``feed_silent_at``: the
    last time the feed as a whole was stale; within the window, nothing is reported.
    """
    if not is_trading_day or not last_article_by_symbol:
        return []
    now_utc = utc(now)
    horizon = trading_hours_back(now_utc, max_hours, calendar)
    if feed_silent_at is not None and utc(feed_silent_at) >= horizon:
        # The whole feed was silent inside the window (a stale-feed alert): symbols without an
        # article since are its aftermath, the same incident, not a second one.
        return []
    quiet = sorted(
        symbol for symbol, last in last_article_by_symbol.items() if last is None or pd.isna(last) or utc(last) < horizon
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



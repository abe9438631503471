"""Alert rules at their edges, and the dedup ledger a sensor keeps in its cursor."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.alerts import (
    Alert,
    AlertLedger,
    at_least,
    daily_drop_alerts,
    news_inactivity_alert,
    provider_success_alert,
    run_failure_alert,
    run_url,
    stale_news_alert,
    stale_prices_alert,
)

NOW = dt.datetime(2024, 3, 6, 15, 0, tzinfo=dt.UTC)  # a Wednesday, 10:00 in New York


def _index(returns: list[float], start: str = "2024-03-04", strategy: str | None = None) -> pd.DataFrame:
    dates = pd.bdate_range(start, periods=len(returns))
    frame = pd.DataFrame({"date": dates, "daily_return": returns})
    if strategy is not None:
        frame["strategy"] = strategy
    return frame


# --------------------------------------------------------------------------------------------
# Daily drop


def test_daily_drop_edges_099_100_200():
    alerts = daily_drop_alerts(_index([np.nan, -0.0099, -0.01, -0.0199, -0.02, 0.01]))
    got = {a.partition: a.severity for a in alerts}
    assert got == {"2024-03-06": "warning", "2024-03-07": "warning", "2024-03-08": "critical"}
    assert "2024-03-05" not in got  # -0.99% is not a -1% drop


def test_daily_drop_counts_a_rounded_minus_one_percent():
    # Levels 100 -> 99 give -0.01 up to floating-point rounding; it must still fire.
    r = 99.0 / 100.0 - 1.0
    r_low = -0.009999999999999787
    alerts = daily_drop_alerts(_index([r, r_low, 98.0 / 100.0 - 1.0]))
    assert [a.severity for a in alerts] == ["warning", "warning", "critical"]


def test_daily_drop_key_figure_and_since():
    frame = pd.concat([_index([-0.015], strategy="growth"), _index([-0.03], start="2024-03-05", strategy="growth")])
    alerts = daily_drop_alerts(frame, since="2024-03-05")
    assert len(alerts) == 1
    a = alerts[0]
    assert a.dedup_key == "daily_drop:growth:2024-03-05"
    assert a.figure == "-3.00%"
    assert a.asset == "index_values" and a.partition == "2024-03-05"
    assert "growth" in a.title and "3.00%" in a.title


def test_daily_drop_custom_threshold_and_validation():
    alerts = daily_drop_alerts(_index([-0.019, -0.02, -0.04]), threshold=-0.02)
    assert [a.severity for a in alerts] == ["warning", "critical"]
    with pytest.raises(ValueError):
        daily_drop_alerts(_index([-0.05]), threshold=0.01)
    assert daily_drop_alerts(_index([])) == []


# --------------------------------------------------------------------------------------------
# Staleness


def test_stale_prices_counts_sessions_not_days():
    # Friday 2024-03-01 -> Monday 2024-03-04: one session behind over a weekend is allowed.
    assert stale_prices_alert("2024-03-01", "2024-03-04") == []
    # Up to date.
    assert stale_prices_alert("2024-03-04", "2024-03-04") == []
    # Two sessions behind: warning, keyed by the newest stored close (one stale spell).
    [a] = stale_prices_alert("2024-03-01", "2024-03-05")
    assert (a.severity, a.dedup_key, a.figure) == ("warning", "stale_prices:prices:2024-03-01", "2 sessions behind")
    # Good Friday 2024-03-29 is a holiday: Thursday 28th -> Monday 1 April is one session.
    assert stale_prices_alert("2024-03-28", "2024-04-01") == []
    # Five sessions behind: critical.
    [a] = stale_prices_alert("2024-02-26", "2024-03-04")
    assert a.severity == "critical"


def test_stale_prices_allowance_and_empty_warehouse():
    assert stale_prices_alert("2024-03-01", "2024-03-05", sessions_behind_allowed=2) == []
    [a] = stale_prices_alert(None, "2024-03-05")
    assert a.severity == "critical"


def test_stale_news_edges():
    last = NOW - dt.timedelta(hours=24)
    assert stale_news_alert(last, NOW, is_trading_day=True) == []  # exactly 24 h is not stale
    [a] = stale_news_alert(last - dt.timedelta(minutes=1), NOW, is_trading_day=True)
    assert a.severity == "warning" and a.kind == "stale_news"
    assert stale_news_alert(last - dt.timedelta(hours=10), NOW, is_trading_day=False) == []  # weekend
    [a] = stale_news_alert(NOW - dt.timedelta(hours=80), NOW, is_trading_day=True)
    assert a.severity == "critical"
    # Naive datetimes are UTC; the key names the newest article, so one spell is one event.
    naive = stale_news_alert(dt.datetime(2024, 3, 5, 10, 0), NOW, True, max_hours=12)[0]
    aware = stale_news_alert(dt.datetime(2024, 3, 5, 10, 0, tzinfo=dt.UTC), NOW + dt.timedelta(hours=3), True, max_hours=12)[0]
    assert naive.dedup_key == aware.dedup_key == "stale_news:news_articles:2024-03-05T10:00:00Z"


def test_news_inactivity_lists_quiet_symbols():
    recent, old = NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=30)
    [a] = news_inactivity_alert({"AAPL": recent, "MSFT": old, "KO": None, "XOM": recent, "JPM": recent}, NOW, True)
    assert a.severity == "info"  # 2 of 5 quiet
    assert "KO, MSFT" in a.message and a.dedup_key == "news_inactivity:news_sentiment:2024-03-06"
    [a] = news_inactivity_alert({"AAPL": old, "MSFT": None}, NOW, True)
    assert a.severity == "warning"
    assert news_inactivity_alert({"AAPL": recent}, NOW, True) == []
    assert news_inactivity_alert({"AAPL": old}, NOW, False) == []


# --------------------------------------------------------------------------------------------
# Checks, runs, providers


def test_run_failure_key_and_truncation():
    [a] = run_failure_alert("daily_prices", "abc123", "boom " * 500, partition="2024-03-05")
    assert a.dedup_key == "run_failure:daily_prices:abc123"
    assert a.severity == "critical" and len(a.message) < 700
    assert a.with_run_url("http://ui:3000/").run_url == "http://ui:3000/runs/abc123"
    assert run_url("http://ui", "x") == "http://ui/runs/x"


def test_provider_success_rate_edges():
    assert provider_success_alert([True] * 95 + [False] * 5, "twelvedata") == []  # exactly 95%
    [a] = provider_success_alert([True] * 94 + [False] * 6, "twelvedata", since_run="r-7")
    assert a.severity == "warning" and a.figure == "94.0% (94/100)"
    assert a.dedup_key == "provider:twelvedata:r-7"
    [a] = provider_success_alert([False] * 25 + [True] * 75, "twelvedata")
    assert a.severity == "critical"
    # Only the last `window` calls count: old failures have aged out.
    assert provider_success_alert([False] * 50 + [True] * 100, "twelvedata") == []
    # Too few calls to judge.
    assert provider_success_alert([False] * 5, "twelvedata") == []


def test_alert_validates_severity_and_round_trips():
    with pytest.raises(ValueError):
        Alert(kind="x", severity="urgent", dedup_key="k", title="t", message="m")  # type: ignore[arg-type]
    a = run_failure_alert("job", "r1", "err")[0]
    assert Alert.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert at_least("critical", "warning") and not at_least("info", "warning")


# --------------------------------------------------------------------------------------------
# Ledger


def _drop(day: str, r: float = -0.015) -> Alert:
    return daily_drop_alerts(pd.DataFrame({"date": [day], "daily_return": [r]}))[0]


def test_ledger_fires_once_then_again_for_a_new_event():
    ledger = AlertLedger()
    sent, cursor = ledger.process(None, [_drop("2024-03-05")], now=NOW)
    assert [a.dedup_key for a in sent] == ["daily_drop:default:2024-03-05"]
    # Every later tick sees the same drop: nothing to send.
    for minutes in (1, 2, 60):
        sent, cursor = ledger.process(cursor, [_drop("2024-03-05")], now=NOW + dt.timedelta(minutes=minutes))
        assert sent == []
    # The next session's drop is a new event.
    sent, cursor = ledger.process(cursor, [_drop("2024-03-05"), _drop("2024-03-06")], now=NOW + dt.timedelta(days=1))
    assert [a.partition for a in sent] == ["2024-03-06"]


def test_ledger_cursor_round_trip_is_stable():
    ledger = AlertLedger()
    _, cursor = ledger.process("", [_drop("2024-03-05"), _drop("2024-03-06", -0.03)], now=NOW)
    again = json.dumps(json.loads(cursor))  # through a JSON store and back
    sent, cursor2 = ledger.process(again, [_drop("2024-03-05"), _drop("2024-03-06", -0.03)], now=NOW)
    assert sent == []
    assert cursor2 == cursor  # canonical: unchanged when nothing is sent
    assert ledger.process(cursor, [], now=NOW)[1] == cursor
    # A fresh ledger object reads it the same way.
    assert AlertLedger().keys(cursor) == ["daily_drop:default:2024-03-05", "daily_drop:default:2024-03-06"]


def test_ledger_escalation_and_batch_duplicates():
    ledger = AlertLedger()
    warn = provider_success_alert([True] * 90 + [False] * 10, "td", since_run="r-1")[0]
    crit = provider_success_alert([True] * 70 + [False] * 30, "td", since_run="r-1")[0]
    assert warn.dedup_key == crit.dedup_key
    # Same key twice in one batch: sent once, the most severe.
    sent, cursor = ledger.process(None, [warn, crit, warn], now=NOW)
    assert [a.severity for a in sent] == ["critical"]
    # Lower severity later: suppressed.
    assert ledger.process(cursor, [warn], now=NOW)[0] == []
    # Escalation from warning to critical is news.
    sent, cursor = ledger.process(None, [warn], now=NOW)
    sent, cursor = ledger.process(cursor, [crit], now=NOW)
    assert [a.severity for a in sent] == ["critical"]


def test_ledger_is_bounded_and_keeps_the_newest():
    ledger = AlertLedger(max_keys=5)
    cursor = None
    for i in range(12):
        day = (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat()
        sent, cursor = ledger.process(cursor, [_drop(day)], now=NOW + dt.timedelta(minutes=i))
        assert len(sent) == 1
    keys = ledger.keys(cursor)
    assert len(keys) == 5
    assert keys[-1] == "daily_drop:default:2024-01-12" and keys[0] == "daily_drop:default:2024-01-08"
    assert len(cursor) < 1000
    # The default bound of 500 keeps a cursor of a few tens of kB at most.
    big = AlertLedger()
    alerts = [run_failure_alert("job", f"run-{i:04d}", "x")[0] for i in range(800)]
    _, cursor = big.process(None, alerts, now=NOW)
    assert len(big.keys(cursor)) == 500 and len(cursor) < 40_000


def test_ledger_refire_after_resolve_and_bad_cursor():
    ledger = AlertLedger(refire_after=dt.timedelta(hours=24))
    check = run_failure_alert("prices_job", "r1", "low")[0]
    _, cursor = ledger.process(None, [check], now=NOW)
    assert ledger.process(cursor, [check], now=NOW + dt.timedelta(hours=23))[0] == []
    assert len(ledger.process(cursor, [check], now=NOW + dt.timedelta(hours=24))[0]) == 1
    # Resolving a key (the check passes again) lets the next failure fire.
    plain = AlertLedger()
    _, cursor = plain.process(None, [check], now=NOW)
    cursor = plain.resolve(cursor, prefix="run_failure:prices_job:")
    assert len(plain.process(cursor, [check], now=NOW)[0]) == 1
    # An unreadable cursor does not wedge the sensor.
    sent, cursor = plain.process("{not json", [check], now=NOW)
    assert len(sent) == 1 and json.loads(cursor)["v"] == 1

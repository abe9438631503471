"""The alert rules that read runs (check results, provider calls), the staleness rule against the
clock, and the outbox's retry schedule: each at the case that was measured wrong before."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from autoindex_pipeline.domain.alerts import (
    DEAD,
    PENDING,
    FailedCheck,
    RetrySchedule,
    RunCalls,
    check_incident_alerts,
    check_sessions,
    incident_key,
    index_held_alerts,
    news_inactivity_alert,
    outage_start,
    prices_stale_alerts,
    provider_health_alerts,
    provider_incident_key,
    run_outcomes,
)

RANGE = {"dagster/asset_partition_range_start": "2025-06-02", "dagster/asset_partition_range_end": "2025-06-06"}
OFFENDING = "| symbol | date | value |\n|---|---|---|\n| JPM | 2025-06-04 | 0.31 |\n| KO | 2025-06-03 | 0.2 |"


# --------------------------------------------------------------------------------------------
# Failed checks


def _failed(check="return_cap", severity="ERROR", blocking=True, first="2025-06-04", symbols=("JPM",), sessions=None):
    return FailedCheck("prices", check, severity, blocking, f"{check} failed", first, symbols, sessions)


def test_only_a_blocking_check_failing_at_error_pages_and_it_is_critical():
    # Measured: WARN results went out as CRITICAL (email page). A warning informs (the UI, the
    # quality report); the conditions that need a person have their own rules.
    [error] = check_incident_alerts([_failed()], "r1")
    assert error.severity == "critical" and error.partition == "2025-06-04" and "JPM" in error.title
    assert check_incident_alerts([_failed("robust_z", "WARN", False)], "r1") == []
    # A blocking check that only warns stops nothing either (the event log may hold old ones).
    assert check_incident_alerts([_failed("x", "WARN", True)], "r1") == []
    # The registry's paging warning (the validation rate under 95 %) is sent, as a warning.
    rate = FailedCheck("quality_report", "validation_rate", "WARN", False, "93% on 2025-06-04", "2025-06-04", (),
                       warning_pages=True)
    [w] = check_incident_alerts([rate], "r1")
    assert w.severity == "warning" and w.dedup_key == "data:quality_report:2025-06-04:all"


def test_the_sessions_are_the_data_s_not_the_sensor_s_day():
    assert check_sessions("2025-06-04", RANGE) == ("2025-06-04", "2025-06-04")  # the result's own partition
    assert check_sessions(None, RANGE, [OFFENDING]) == ("2025-06-02", "2025-06-06")  # a single-run backfill
    assert check_sessions(None, {"dagster/partition": "2025-06-05"}) == ("2025-06-05", "2025-06-05")
    assert check_sessions(None, {}, [OFFENDING]) == ("2025-06-03", "2025-06-04")  # the offending rows
    assert check_sessions(None, {}, ["observed 3 vs threshold 0"]) is None
    # Undated offending rows (a table-level check): the first session the run checked.
    [a] = check_incident_alerts([_failed(first=None, symbols=(), sessions=check_sessions(None, RANGE))], "run-1")
    assert a.partition == "2025-06-02" and a.dedup_key == "data:prices:2025-06-02:all"
    # Nothing dated at all (an unpartitioned asset): the run is all that names it.
    [u] = check_incident_alerts([_failed(first=None, symbols=(), sessions=None)], "run-7")
    assert u.dedup_key == "data:prices:undated:run-7" and u.partition is None


def test_one_alert_per_data_incident_however_many_runs_and_checks_see_it():
    # Measured (the simulated fortnight): a refused x10 print, re-fetched by every catch-up
    # tick (that is how a corrected print heals), raised return_cap + ohlc_validity + a run
    # failure per run: 12 critical alerts for one bad row.
    both = [_failed("return_cap"), _failed("ohlc_validity")]
    [a] = check_incident_alerts(both, "run-a")
    [b] = check_incident_alerts([_failed("ohlc_validity")], "run-b")
    assert a.dedup_key == b.dedup_key == incident_key("prices", "2025-06-04", ["JPM"]) == "data:prices:2025-06-04:JPM"
    assert "return_cap, ohlc_validity" in a.title and a.run_id == "run-a"
    # Another symbol's bad row, or the same symbol on another session, is another incident.
    assert check_incident_alerts([_failed(symbols=("KO",))], "r")[0].dedup_key != a.dedup_key
    assert check_incident_alerts([_failed(first="2025-06-05")], "r")[0].dedup_key != a.dedup_key


# --------------------------------------------------------------------------------------------
# Provider health


def test_a_run_is_counted_once_however_many_partitions_it_materialized():
    # Measured: one 20-session run with 3 real calls (one retried 500) read as 20 records of
    # (3 calls, 2 succeeded) -> "40/60 calls", critical. It is 3 calls: too few to judge.
    twenty_records = [RunCalls("run-1", calls=3, succeeded=2)] * 20
    assert run_outcomes(twenty_records) == [True, True, False]
    assert provider_health_alerts(twenty_records, "twelvedata") == []


def test_a_total_outage_is_critical_however_few_the_calls():
    # Measured: 10 of 10 calls failed, the run failed, nothing was materialized: no alert.
    [a] = provider_health_alerts([RunCalls("run-9", calls=10, succeeded=0)], "twelvedata")
    assert a.severity == "critical" and a.kind == "provider_outage"
    assert a.dedup_key == "provider:twelvedata:run-9" and a.figure == "0/10 calls"
    # After a long healthy stretch too: the newest run got nothing.
    history = [RunCalls("run-9", 10, 0)] + [RunCalls(f"ok-{i}", 10, 10) for i in range(20)]
    assert [a.kind for a in provider_health_alerts(history, "twelvedata")] == ["provider_outage"]


def test_an_outage_and_the_low_rate_it_leaves_behind_are_one_incident():
    # Measured (the simulated fortnight): a 2-session outage raised an outage alert per New York
    # day, then a success-rate alert per day while its failures stayed in the 100-call window.
    healthy = [RunCalls(f"ok-{i}", 10, 10) for i in range(5)]
    day1 = [RunCalls("down-1", 3, 0)] + healthy
    day2 = [RunCalls("down-3", 3, 0), RunCalls("down-2", 3, 0)] + day1
    assert outage_start(day2) == "down-1" and outage_start(healthy) is None
    keys = {a.dedup_key for a in provider_health_alerts(day1, "td") + provider_health_alerts(day2, "td")}
    after = [RunCalls(f"back-{i}", 2, 2) for i in range(3)] + day2  # 9 of 65 calls failed: 86%
    [low] = provider_health_alerts(after, "td")
    assert low.kind == "provider_success" and keys == {low.dedup_key} == {provider_incident_key("td", "down-1")}
    # A new outage after the provider answered again is a new incident.
    [again] = provider_health_alerts([RunCalls("down-9", 3, 0)] + after, "td")
    assert again.dedup_key == "provider:td:down-9"


def test_the_rate_is_over_the_last_100_calls_across_runs():
    runs = [RunCalls(f"r{i}", 10, 9) for i in range(4)] + [RunCalls(f"s{i}", 10, 10) for i in range(6)]
    assert len(run_outcomes(runs)) == 100  # newest first in, 100 calls out
    [a] = provider_health_alerts(runs[:4] + [RunCalls("x", 10, 8)] + runs[4:], "td")
    assert a.kind == "provider_success" and a.severity == "warning" and a.figure == "94.0% (94/100)"
    assert a.dedup_key == "provider:td:x"  # the oldest run with a failed call inside the window
    assert provider_health_alerts(runs, "td") == []  # 96%


# --------------------------------------------------------------------------------------------
# Staleness


def _ny(day: str, hour: int) -> pd.Timestamp:
    return pd.Timestamp(f"{day} {hour:02d}:00", tz="America/New_York")


def test_prices_are_stale_one_session_behind():
    # Newest close Friday 2024-03-01. Monday's close is due by 19:00 New York (close + 3 h).
    # Measured: the sensor passed stale_after_sessions (1) as the allowed lag, so nothing fired
    # until Tuesday evening, two sessions (~46 h) behind.
    [a] = prices_stale_alerts("2024-03-01", _ny("2024-03-04", 20), 1)
    assert (a.severity, a.figure, a.dedup_key) == ("warning", "1 session behind", "stale_prices:prices:2024-03-01")
    # Between the close and the scheduled fetch Monday's prices are not due yet.
    assert prices_stale_alerts("2024-03-01", _ny("2024-03-04", 17), 1) == []
    # Up to date, and over a weekend.
    assert prices_stale_alerts("2024-03-04", _ny("2024-03-05", 10), 1) == []
    assert prices_stale_alerts("2024-03-01", _ny("2024-03-03", 12), 1) == []
    # A looser allowance: stale from 2 sessions behind.
    assert prices_stale_alerts("2024-03-01", _ny("2024-03-04", 20), 2) == []
    assert len(prices_stale_alerts("2024-03-01", _ny("2024-03-05", 20), 2)) == 1
    # Empty warehouse: critical.
    assert prices_stale_alerts(None, _ny("2024-03-05", 20), 1)[0].severity == "critical"
    with pytest.raises(ValueError):
        prices_stale_alerts("2024-03-01", _ny("2024-03-04", 20), 0)


# --------------------------------------------------------------------------------------------
# Outbox retries


def test_retries_back_off_and_dead_letter_after_max_attempts():
    schedule = RetrySchedule()
    now = dt.datetime(2025, 6, 6, 12, 0, tzinfo=dt.UTC)
    waits = [schedule.wait(n) for n in range(1, 8)]
    assert waits == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]
    assert schedule.after_failure(1, now) == (PENDING, now + dt.timedelta(minutes=1))
    assert schedule.after_failure(7, now) == (PENDING, now + dt.timedelta(hours=1))
    assert schedule.after_failure(8, now) == (DEAD, None)
    assert RetrySchedule(max_attempts=2).after_failure(2, now) == (DEAD, None)
    with pytest.raises(ValueError):
        schedule.wait(0)


# --------------------------------------------------------------------------------------------
# Index held


def test_an_index_hold_is_the_prices_incident_it_waits_for():
    meta = {"held_from": "2025-06-04", "held_reason": "default: 2025-06-04 misses JPM", "held_symbols": "JPM",
            "default held_from": "2025-06-04", "other held_from": "2025-06-04", "momentum held_from": "2025-06-05",
            "dagster/row_count": 10}
    alerts = index_held_alerts(meta, run_id="r1")
    # Two strategies held at the same session for the same close: one alert; it has the key of
    # the refused or missing rows, so a failed check on JPM's 2025-06-04 row already sent it.
    assert [(a.dedup_key, a.severity, a.partition) for a in alerts] == [
        ("data:prices:2025-06-04:JPM", "warning", "2025-06-04"),
        ("index_held:momentum:2025-06-05", "warning", "2025-06-05"),
    ]
    assert alerts[0].dedup_key == check_incident_alerts([_failed()], "r0")[0].dedup_key
    assert "'default', 'other'" in alerts[0].title and "misses JPM" in alerts[0].message and alerts[0].run_id == "r1"
    assert index_held_alerts({"dagster/row_count": 10}) == []  # not held


def test_staleness_is_one_alert_per_spell_and_the_outage_s_while_the_provider_is_down():
    # Measured: one alert per expected session while prices stayed stale (the outage raised
    # two, plus one per day of outage).
    monday, tuesday = prices_stale_alerts("2024-03-01", _ny("2024-03-04", 20)), prices_stale_alerts("2024-03-01", _ny("2024-03-05", 20))
    assert monday[0].dedup_key == tuesday[0].dedup_key == "stale_prices:prices:2024-03-01"
    [down] = prices_stale_alerts("2024-03-01", _ny("2024-03-04", 20), incident="provider:td:run-1")
    assert down.dedup_key == "provider:td:run-1"


def test_a_quiet_weekend_is_not_a_quiet_symbol():
    # Measured (the simulated fortnight with news): every Monday morning warned that most
    # symbols had no news for 24 h, the 24 h being Sunday.
    monday = _ny("2025-06-09", 9)  # Monday 09:00; Friday 2025-06-06 was a session
    friday_noon, thursday = _ny("2025-06-06", 12), _ny("2025-06-05", 8)
    assert news_inactivity_alert({"AAPL": friday_noon, "KO": friday_noon}, monday, True) == []
    [a] = news_inactivity_alert({"AAPL": friday_noon, "KO": thursday}, monday, True)
    assert "KO" in a.message and "AAPL" not in a.message
    # A weekday is 24 hours back as before.
    assert news_inactivity_alert({"AAPL": _ny("2025-06-10", 8)}, _ny("2025-06-11", 9), True)


def test_symbols_quiet_after_a_silent_feed_are_the_silence_not_a_second_alert():
    # Measured (the simulated quarter): the session after a 30 h silence warned that most symbols
    # had no news for 24 h, the aftermath of the silence already sent as a stale feed.
    now = _ny("2025-06-11", 0)
    quiet = {"AAPL": _ny("2025-06-09", 12), "KO": _ny("2025-06-09", 12)}
    assert news_inactivity_alert(quiet, now, True)
    assert news_inactivity_alert(quiet, now, True, feed_silent_at=_ny("2025-06-10", 21)) == []
    # A silence older than the window no longer explains anything.
    assert news_inactivity_alert(quiet, now, True, feed_silent_at=_ny("2025-06-09", 21))

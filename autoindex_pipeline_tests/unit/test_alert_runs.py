"""The alert rules that read runs (check results, provider calls), the staleness rule against the
clock, and the outbox's retry schedule: each at the case that was measured wrong before."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from autoindex_pipeline.domain.alerts import (
    DEAD,
    PENDING,
    RetrySchedule,
    RunCalls,
    check_failure_alert,
    check_sessions,
    index_held_alerts,
    prices_stale_alerts,
    provider_health_alerts,
    run_outcomes,
)

RANGE = {"dagster/asset_partition_range_start": "2025-06-02", "dagster/asset_partition_range_end": "2025-06-06"}
OFFENDING = "| symbol | date | value |\n|---|---|---|\n| JPM | 2025-06-04 | 0.31 |\n| KO | 2025-06-03 | 0.2 |"


# --------------------------------------------------------------------------------------------
# Failed checks


def test_a_warn_check_is_a_warning_and_only_an_error_blocking_one_pages():
    [warn] = check_failure_alert("prices", "robust_z", check_severity="WARN", blocking=False,
                                 sessions=("2025-06-04", "2025-06-04"), run_id="r1", description="2 rows")
    assert warn.severity == "warning"
    [error] = check_failure_alert("prices", "return_cap", check_severity="ERROR", blocking=True,
                                  sessions=("2025-06-04", "2025-06-04"), run_id="r1", description="1 row")
    assert error.severity == "critical"
    # A blocking check that only warns does not page either (the registry never builds one, but
    # the event log may hold old ones).
    [odd] = check_failure_alert("prices", "x", check_severity="WARN", blocking=True, sessions=None, run_id="r1",
                                description="")
    assert odd.severity == "warning"


def test_the_sessions_are_the_data_s_not_the_sensor_s_day():
    assert check_sessions("2025-06-04", RANGE) == ("2025-06-04", "2025-06-04")  # the result's own partition
    assert check_sessions(None, RANGE, [OFFENDING]) == ("2025-06-02", "2025-06-06")  # a single-run backfill
    assert check_sessions(None, {"dagster/partition": "2025-06-05"}) == ("2025-06-05", "2025-06-05")
    assert check_sessions(None, {}, [OFFENDING]) == ("2025-06-03", "2025-06-04")  # the offending rows
    assert check_sessions(None, {}, ["observed 3 vs threshold 0"]) is None
    [a] = check_failure_alert("prices", "robust_z", check_severity="WARN", blocking=False,
                              sessions=check_sessions(None, RANGE), run_id="run-1", description="d")
    assert a.partition == "2025-06-02..2025-06-06" and "2025-06-02..2025-06-06" in a.title


def test_one_alert_per_check_sessions_and_run_with_stable_keys():
    def key(run_id: str, sessions=("2025-06-04", "2025-06-04")) -> str:
        return check_failure_alert("prices", "robust_z", check_severity="WARN", blocking=False, sessions=sessions,
                                   run_id=run_id, description="d")[0].dedup_key

    # Two failing runs on the same day are two alerts, each linking its own run.
    assert key("run-a") != key("run-b")
    assert key("run-a") == "check:prices:robust_z:2025-06-04:run-a"
    # The same result seen again (another tick, another daemon process) has the same key.
    assert key("run-a") == key("run-a")
    assert key("run-a", ("2025-06-02", "2025-06-06")) == "check:prices:robust_z:2025-06-02..2025-06-06:run-a"
    assert key("run-a", None) == "check:prices:robust_z:undated:run-a"


# --------------------------------------------------------------------------------------------
# Provider health


def test_a_run_is_counted_once_however_many_partitions_it_materialized():
    # Measured: one 20-session run with 3 real calls (one retried 500) read as 20 records of
    # (3 calls, 2 succeeded) -> "40/60 calls", critical. It is 3 calls: too few to judge.
    twenty_records = [RunCalls("run-1", calls=3, succeeded=2)] * 20
    assert run_outcomes(twenty_records) == [True, True, False]
    assert provider_health_alerts(twenty_records, "twelvedata", day="2025-06-06") == []


def test_a_total_outage_is_critical_however_few_the_calls():
    # Measured: 10 of 10 calls failed, the run failed, nothing was materialized: no alert.
    [a] = provider_health_alerts([RunCalls("run-9", calls=10, succeeded=0)], "twelvedata", day="2025-06-06")
    assert a.severity == "critical" and a.kind == "provider_outage"
    assert a.dedup_key == "provider_outage:twelvedata:2025-06-06" and a.figure == "0/10 calls"
    # After a long healthy stretch too: the newest run got nothing.
    history = [RunCalls("run-9", 10, 0)] + [RunCalls(f"ok-{i}", 10, 10) for i in range(20)]
    assert [a.kind for a in provider_health_alerts(history, "twelvedata")] == ["provider_outage"]


def test_the_rate_is_over_the_last_100_calls_across_runs():
    runs = [RunCalls(f"r{i}", 10, 9) for i in range(4)] + [RunCalls(f"s{i}", 10, 10) for i in range(6)]
    assert len(run_outcomes(runs)) == 100  # newest first in, 100 calls out
    [a] = provider_health_alerts(runs[:4] + [RunCalls("x", 10, 8)] + runs[4:], "td", day="2025-06-06")
    assert a.kind == "provider_success" and a.severity == "warning" and a.figure == "94.0% (94/100)"
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
    assert (a.severity, a.figure, a.dedup_key) == ("warning", "1 session behind", "stale_prices:prices:2024-03-04")
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


def test_an_index_hold_is_one_warning_per_strategy_and_first_held_session():
    meta = {"held_from": "2025-06-04", "held_reason": "default: 2025-06-04 misses JPM",
            "default held_from": "2025-06-04", "momentum held_from": "2025-06-05", "dagster/row_count": 10}
    alerts = index_held_alerts(meta, run_id="r1")
    assert [(a.dedup_key, a.severity, a.partition) for a in alerts] == [
        ("index_held:default:2025-06-04", "warning", "2025-06-04"),
        ("index_held:momentum:2025-06-05", "warning", "2025-06-05"),
    ]
    assert "misses JPM" in alerts[0].message and alerts[0].run_id == "r1"
    assert index_held_alerts({"dagster/row_count": 10}) == []  # not held

"""Schedules on real calendar edge dates, alert sensors over a sequence of ticks with cursors,
declarative automation after a prices run, and the backup-and-restore job on PostgreSQL."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.alerts.sensors import deliver_alerts, index_daily_drop
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def defs():
    return build_definitions()


def _tick(defs, when: dt.datetime):
    schedule = defs.resolve_schedule_def("prices_after_close")
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, repository_def=defs.get_repository_def()
        )
        result = schedule.evaluate_tick(context)
        return list(result.run_requests or []), result.skip_message


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-12-25", None),  # Christmas, a Thursday: skipped with its reason
        ("2025-07-04", None),  # Independence Day, a Friday
        ("2025-11-28", "2025-11-28"),  # the half day after Thanksgiving is a session
        ("2025-03-10", "2025-03-10"),  # first session after the switch to daylight saving time
        ("2025-11-03", "2025-11-03"),  # first session after the switch back
        ("2025-12-24", "2025-12-24"),  # Christmas Eve half day
    ],
)
def test_prices_schedule_runs_on_sessions_only(defs, day, expected):
    when = dt.datetime.combine(pd.Timestamp(day).date(), dt.time(18, 0), tzinfo=NY)
    requests, skip = _tick(defs, when)
    if expected is None:
        assert requests == [] and "not a XNYS session" in skip
    else:
        assert [r.partition_key for r in requests] == [expected]
        assert requests[0].run_key == f"prices-{expected}"


def test_prices_schedule_cron_is_weekdays_at_18_new_york(defs):
    schedule = defs.resolve_schedule_def("prices_after_close")
    assert schedule.cron_schedule == "0 18 * * 1-5" and schedule.execution_timezone == "America/New_York"
    # Weekends never tick (cron 1-5); the DST-change sessions are ticked in the test above, where
    # 18:00 New York is 23:00 UTC on 2025-03-07 and 22:00 UTC on 2025-03-10.


def test_every_maintenance_task_has_a_valid_schedule(defs):
    names = {s.name for s in defs.schedules}
    assert {"analyze_warehouse_schedule", "vacuum_analyze_warehouse_schedule",
            "warehouse_backup_schedule", "backup_restore_test_schedule"} <= names


@pytest.fixture
def webhook_config(tmp_path, monkeypatch, httpserver):
    monkeypatch.setenv("AUTOINDEX_TEST_WEBHOOK", httpserver.url_for("/hook"))
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(tmp_path, notifications={"slack_webhook_url_env": "AUTOINDEX_TEST_WEBHOOK",
                                                 "slack_min_severity": "warning"})
    config = load_config(path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    return str(path), config, engine


def _insert_index(engine, version, rows):
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(schema.index_values.insert(), [
            {"strategy": "default", "version": version, "date": pd.Timestamp(d).date(), "level": lvl,
             "daily_return": r, "turnover": 0.0, "cost": 0.0, "is_rebalance": False, "computed_at": now}
            for d, lvl, r in rows
        ])


def _deliver(resources):
    with dg.build_sensor_context(resources=resources) as context:
        return deliver_alerts(context)


def test_a_simulated_drop_notifies_exactly_once_and_a_new_drop_again(webhook_config, httpserver):
    path, config, engine = webhook_config
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    version = config.strategies["default"].version
    _insert_index(engine, version, [("2025-06-02", 100.0, None), ("2025-06-03", 100.5, 0.005), ("2025-06-04", 98.99, -0.015)])
    resources = build_definitions(path).resources

    def tick(cursor):
        # The sensor records into the outbox; deliver_alerts sends.
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            result = index_daily_drop(context)
            cursor = context.cursor
        _deliver(resources)
        return result, cursor

    _, cursor = tick(None)
    assert len(httpserver.log) == 1
    body = json.loads(httpserver.log[0][0].get_data())
    assert "1.50%" in json.dumps(body) and "warning" in json.dumps(body).lower()
    # Same event, next tick, and after a cursor round trip through a string: nothing new.
    result, cursor = tick(json.loads(json.dumps(cursor)))
    assert len(httpserver.log) == 1 and isinstance(result, dg.SkipReason)
    # A new, deeper drop the next day: critical, sent once.
    _insert_index(engine, version, [("2025-06-05", 96.5, -0.0252)])
    tick(cursor)
    assert len(httpserver.log) == 2
    assert "critical" in json.dumps(json.loads(httpserver.log[1][0].get_data())).lower()


def test_a_failing_channel_never_fails_the_sensor(webhook_config, httpserver):
    path, config, engine = webhook_config
    httpserver.expect_request("/hook", method="POST").respond_with_data("boom", status=500)
    _insert_index(engine, config.strategies["default"].version, [("2025-06-04", 98.0, -0.02)])
    resources = build_definitions(path).resources
    with dg.build_sensor_context(resources=resources) as context:
        index_daily_drop(context)  # no exception
        assert context.cursor  # the event is recorded: logged, not retried forever
    _deliver(resources)  # no exception either: the failure is kept for a later retry
    assert len(httpserver.log) >= 1


def test_index_assets_are_requested_after_prices_update(tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    path = write_config(tmp_path, prices={"start_date": "2025-01-02"})
    defs = build_definitions(str(path))
    config = load_config(path)
    (tmp_path / "dg").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert run_prices_job(config, str(path), pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-07"), instance=instance).success
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        for key in ("allocations", "index_values", "risk_metrics"):
            assert after.get_requested_partitions(dg.AssetKey(key)) == {None}, key
        # Handled: the next evaluation with nothing new requests nothing.
        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after.cursor)
        assert again.get_requested_partitions(dg.AssetKey("index_values")) == set()


def test_news_schedule_refreshes_todays_partition_every_15_minutes(defs):
    schedule = defs.resolve_schedule_def("news_every_15_minutes")
    assert schedule.cron_schedule == "*/15 * * * *"
    when = dt.datetime(2025, 11, 30, 23, 45, tzinfo=NY)  # a Sunday: news happens on weekends too
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                            repository_def=defs.get_repository_def())
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2025-11-30"]
    assert requests[0].run_key == "news-2025-11-30T23:45"


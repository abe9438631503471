"""The alert outbox on both warehouses: sensors record and return at once, `deliver_alerts`
sends within a bounded time, retries later, and sends each alert exactly once, including
against a webhook that accepts connections and never answers."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.alerting.outbox import drain
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, NotifierSettings, load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.alerts.sensors import deliver_alerts, index_daily_drop, stale_prices
from autoindex_pipeline.domain.alerts import DEAD, PENDING, SENT, RetrySchedule, daily_drop_alerts
from autoindex_pipeline.warehouse import outbox, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config

HOOK_ENV = "AUTOINDEX_TEST_OUTBOX_WEBHOOK"
NOW = dt.datetime(2025, 6, 6, 21, 0, tzinfo=dt.UTC)


def _drop(day: str, r: float) -> list:
    return daily_drop_alerts(pd.DataFrame({"date": [day], "daily_return": [r]}))


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


class HungServer:
    """Accepts TCP connections and never sends a byte back (a stuck webhook endpoint)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.fixture
def hung():
    server = HungServer()
    yield server
    server.close()


def test_an_alert_is_stored_once_escalated_once_and_never_sent_twice(engine):
    log_only = NotifierSettings()
    assert outbox.record(engine, _drop("2025-06-04", -0.015) * 2, NOW) == outbox.Recorded(1, 0)
    assert outbox.record(engine, _drop("2025-06-04", -0.015), NOW).new == 0
    assert [r.status for r in outbox.rows(engine)] == [PENDING]
    assert drain(engine, log_only, now=NOW).sent == ["daily_drop:default:2025-06-04"]
    # Recorded again (a restarted daemon with a lost cursor): stored, already sent, not re-sent.
    outbox.record(engine, _drop("2025-06-04", -0.015), NOW)
    assert drain(engine, log_only, now=NOW + dt.timedelta(hours=1)).sent == []
    [row] = outbox.rows(engine)
    assert (row.status, row.attempts, row.delivered) == (SENT, 1, frozenset({"log"}))
    # The same event now critical is news: re-opened once at the higher severity.
    assert outbox.record(engine, _drop("2025-06-04", -0.025), NOW).escalated == 1
    assert outbox.record(engine, _drop("2025-06-04", -0.015), NOW).escalated == 0  # lower: ignored
    assert drain(engine, log_only, now=NOW).sent == ["daily_drop:default:2025-06-04"]
    [row] = outbox.rows(engine)
    assert row.alert.severity == "critical" and row.status == SENT
    assert drain(engine, log_only, now=NOW + dt.timedelta(days=1)).sent == []


def test_a_dead_channel_is_retried_with_backoff_then_dead_lettered(engine, monkeypatch):
    # Nothing listens on this port: each attempt fails fast.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = NotifierSettings(slack_webhook_url_env=HOOK_ENV)
    monkeypatch.setenv(HOOK_ENV, f"http://127.0.0.1:{port}/hook")
    outbox.record(engine, _drop("2025-06-04", -0.015), NOW)
    schedule = RetrySchedule(max_attempts=3)
    first = drain(engine, settings, now=NOW, schedule=schedule)
    assert list(first.retrying) == ["daily_drop:default:2025-06-04"] and first.down == {"slack"}
    [row] = outbox.rows(engine)
    assert (row.status, row.attempts, row.delivered) == (PENDING, 1, frozenset({"log"}))
    assert row.next_attempt_at == NOW + dt.timedelta(minutes=1) and "slack" in row.last_error
    assert drain(engine, settings, now=NOW + dt.timedelta(seconds=30), schedule=schedule).retrying == {}  # not due
    drain(engine, settings, now=NOW + dt.timedelta(minutes=1), schedule=schedule)
    last = drain(engine, settings, now=NOW + dt.timedelta(minutes=4), schedule=schedule)
    assert list(last.dead) == ["daily_drop:default:2025-06-04"]
    [row] = outbox.rows(engine)
    assert (row.status, row.attempts, row.next_attempt_at) == (DEAD, 3, None)
    assert drain(engine, settings, now=NOW + dt.timedelta(days=1), schedule=schedule).sent == []
    # An operator requeues it: it goes to the missing channel only.
    assert outbox.requeue_dead(engine, NOW + dt.timedelta(days=1)) == 1
    assert outbox.rows(engine)[0].status == PENDING


def test_a_hung_webhook_never_fails_a_recording_tick_and_each_alert_is_delivered_once(
    warehouse_url, tmp_path, monkeypatch, httpserver, hung
):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    monkeypatch.setenv(HOOK_ENV, hung.url)
    path = write_config(tmp_path, notifications={"slack_webhook_url_env": HOOK_ENV, "slack_min_severity": "warning",
                                                 "slack_timeout_seconds": 2})
    config = load_config(path)
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    version = config.strategies["default"].version
    with engine.begin() as conn:
        conn.execute(schema.index_values.insert(), [
            {"strategy": "default", "version": version, "date": pd.Timestamp(d).date(), "level": lvl,
             "daily_return": r, "turnover": 0.0, "cost": 0.0, "is_rebalance": False, "computed_at": NOW}
            for d, lvl, r in [("2025-06-03", 100.0, 0.0), ("2025-06-04", 98.5, -0.015), ("2025-06-05", 96.0, -0.0254)]
        ])
    resources = build_definitions(str(path)).resources

    def tick(sensor, cursor=None):
        started = time.monotonic()
        with dg.build_sensor_context(cursor=cursor, resources=resources) as context:
            result = sensor(context)
            cursor = context.cursor
        return result, cursor, time.monotonic() - started

    # The recording sensors do not touch the webhook: fast, whatever the channel does.
    _, drop_cursor, seconds = tick(index_daily_drop)
    assert seconds < 5
    _, _, seconds = tick(stale_prices)  # an empty prices table: critical
    assert seconds < 5
    keys = sorted(r.dedup_key for r in outbox.rows(engine))
    assert len(keys) == 3 and all(r.status == PENDING for r in outbox.rows(engine))

    # Delivery against the hung webhook: bounded, and the tick itself succeeds.
    result, _, seconds = tick(deliver_alerts)
    assert isinstance(result, dg.SkipReason) and seconds < 20
    assert "1 to retry" in result.skip_message and "2 deferred" in result.skip_message
    # Ticks go on: each one pays at most one timeout of the stuck channel.
    for _ in range(2):
        _, _, seconds = tick(deliver_alerts)
        assert seconds < 20
    assert all(r.status == PENDING and r.sent_at is None for r in outbox.rows(engine))
    assert hung.held  # it really was connected to, and never answered

    # The webhook answers again: every alert goes out once, and only once.
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    monkeypatch.setenv(HOOK_ENV, httpserver.url_for("/hook"))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    report = drain(engine, config.notifications, now=later)
    assert sorted(report.sent) == keys
    assert len(httpserver.log) == 3
    texts = sorted(json.dumps(json.loads(request.get_data())) for request, _ in httpserver.log)
    assert sum("2025-06-04" in t for t in texts) == 1 and sum("2025-06-05" in t for t in texts) == 1
    # Nothing is sent again: not by later drains, not when a sensor records the same events
    # again with a lost cursor.
    tick(index_daily_drop, cursor=None)
    tick(deliver_alerts)
    assert drain(engine, config.notifications, now=later + dt.timedelta(days=1)).sent == []
    assert len(httpserver.log) == 3
    assert drop_cursor  # the recording sensor saved its cursor on the first tick

"""Alert sensors. The finding sensors evaluate the rules (domain.alerts) and RECORD what is new in
the warehouse's alert outbox; they never talk to Slack or SMTP, so a hung or dead channel cannot
make them miss Dagster's 60 s tick deadline. ``deliver_alerts`` drains the outbox
(alerting.outbox: bounded time per tick, one bounded attempt per channel, retries with backoff,
dead letters).

Each finding sensor keeps its dedup ledger (domain.alerts.AlertLedger) in its cursor, so an
unchanged condition costs no write; the outbox's primary key is the dedup key, so an alert the
ledger forgot (a lost cursor, a daemon restart) is still stored, and sent, once. The cursor is
saved after the outbox write: a tick that failed before it re-evaluates and records next time.
"""

import datetime as dt
import json

import dagster as dg
import pandas as pd

from autoindex_pipeline.alerting.outbox import drain
from autoindex_pipeline.defs.alerts.resources import NotifierResource
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.domain.alerts import (
    AlertLedger,
    RunCalls,
    check_failure_alert,
    check_sessions,
    daily_drop_alerts,
    index_held_alerts,
    news_inactivity_alert,
    prices_stale_alerts,
    provider_health_alerts,
    run_failure_alert,
    stale_news_alert,
)
from autoindex_pipeline.domain.calendar import is_session
from autoindex_pipeline.warehouse import outbox
from autoindex_pipeline.warehouse.alerts import newest_price_date, news_recency, recent_index_rows
from autoindex_pipeline.warehouse.provider_calls import recent_run_calls

SENSOR_INTERVAL_SECONDS = 300
LEDGER = AlertLedger(max_keys=500)
RUNS_PER_TICK = 50
FIRST_TICK_LOOKBACK = dt.timedelta(days=1)
"""A check sensor without a cursor (first start, or an upgrade from the storage-id cursor) looks
at runs that ended this recently, not at the whole history: old failures were handled then."""
RUN_END_EVENTS = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _record(context, warehouse: WarehouseResource, alerts, state: dict) -> dg.SkipReason:
    new, state["ledger"] = LEDGER.process(state.get("ledger"), alerts)
    recorded = outbox.record(warehouse.engine, new, _now())
    context.update_cursor(json.dumps(state, sort_keys=True))
    for alert in new:
        context.log.info(f"alert {alert.dedup_key} ({alert.severity}) recorded for delivery")
    return dg.SkipReason(
        f"{len(alerts)} condition(s): {recorded.new} new and {recorded.escalated} escalated alert(s) in the outbox"
    )


def _state(context) -> dict:
    try:
        return json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        context.log.warning("unreadable cursor; starting afresh")
        return {}


@dg.sensor(name="index_daily_drop", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Warning when a strategy's daily return <= its daily_drop_threshold, critical at 2x.")
def index_daily_drop(context: dg.SensorEvaluationContext, settings: SettingsResource,
                     warehouse: WarehouseResource):
    config = settings.config
    alerts = []
    for name, strat in config.strategies.items():
        rows = recent_index_rows(warehouse.engine, name, strat.version, limit=5)
        alerts += daily_drop_alerts(rows, strat.daily_drop_threshold, strategy=name)
    return _record(context, warehouse, alerts, _state(context))


@dg.sensor(name="index_held", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="A strategy's index held before an incomplete session, once per (strategy, first held session).")
def index_held(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Reads the ``held_from`` metadata of the newest index materializations (a few, so a hold
    reported between two ticks is not missed)."""
    records = context.instance.fetch_materializations(dg.AssetKey("index_values"), limit=10, ascending=False).records
    alerts = []
    for record in records:
        materialization = record.asset_materialization
        if materialization is not None:
            metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
            alerts += index_held_alerts(metadata, run_id=record.run_id or None)
    return _record(context, warehouse, alerts, _state(context))


@dg.sensor(name="stale_prices", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Newest stored close older than prices.stale_after_sessions sessions.")
def stale_prices(context: dg.SensorEvaluationContext, settings: SettingsResource, warehouse: WarehouseResource):
    config = settings.config
    last = newest_price_date(warehouse.engine)
    alerts = prices_stale_alerts(last, _now(), config.prices.stale_after_sessions, calendar=config.prices.calendar)
    return _record(context, warehouse, alerts, _state(context))


def _evidence(metadata) -> list[str]:
    """The texts that name the offending rows' dates (the bounded ``offending_rows`` table when
    there is one)."""
    if "offending_rows" in metadata:
        return [str(metadata["offending_rows"].value)]
    return [str(getattr(v, "value", v)) for v in metadata.values()]


def check_alerts_of_run(instance: dg.DagsterInstance, run_id: str) -> list:
    """An alert per failed check evaluation of one finished run, at the check's severity and
    for the sessions the run checked."""
    run = instance.get_run_by_id(run_id)
    tags = dict(run.tags) if run is not None else {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    alerts = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        description = evaluation.description or "; ".join(
            f"{k}: {v.value}" for k, v in list(evaluation.metadata.items())[:4]
        )
        alerts += check_failure_alert(
            evaluation.asset_key.to_user_string(), evaluation.check_name,
            check_severity=evaluation.severity.value, blocking=bool(evaluation.blocking),
            sessions=check_sessions(evaluation.partition, tags, _evidence(evaluation.metadata)),
            run_id=run_id, description=description,
        )
    return alerts


def _ended_runs(instance: dg.DagsterInstance, event_type: dg.DagsterEventType, cursor: str | None):
    """(run ids ended after ``cursor``, the new cursor). Run-status events are the one event
    query with a cursor that works on every event log storage: on the run-sharded SQLite storage
    of the embedded default, a storage-id cursor over check evaluations is refused."""
    if cursor:
        result = instance.fetch_run_status_changes(event_type, limit=RUNS_PER_TICK, cursor=cursor, ascending=True)
        return [r.run_id for r in result.records], result.cursor
    since = (_now() - FIRST_TICK_LOOKBACK).timestamp()
    recent = instance.fetch_run_status_changes(event_type, limit=RUNS_PER_TICK, ascending=False)
    newest = instance.fetch_run_status_changes(event_type, limit=1, ascending=False)
    run_ids = [r.run_id for r in reversed(recent.records) if r.timestamp >= since]
    return run_ids, newest.cursor if newest.records else None


@dg.sensor(name="failed_blocking_checks", minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="A failed asset check, at its own severity (ERROR blocking: critical; WARN: warning), "
                       "once per (check, sessions, run).")
def failed_blocking_checks(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    state = _state(context)
    cursors = state.setdefault("run_end", {})
    alerts = []
    for event_type in RUN_END_EVENTS:
        run_ids, cursors[event_type.value] = _ended_runs(context.instance, event_type, cursors.get(event_type.value))
        for run_id in run_ids:
            alerts += check_alerts_of_run(context.instance, run_id)
    state.pop("after", None)  # the storage-id cursor of the old query
    return _record(context, warehouse, alerts, state)


def _news_runs(instance: dg.DagsterInstance) -> dict[str, list[RunCalls]]:
    """News provider calls per run from the news materializations, newest first, each run once
    (a run's metadata repeats on every partition it materialized)."""
    out: dict[str, list[RunCalls]] = {}
    seen: set[str] = set()
    records = instance.fetch_materializations(dg.AssetKey("news_articles"), limit=100, ascending=False).records
    for record in records:
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        if record.run_id in seen or "provider" not in meta or "provider_calls" not in meta:
            continue
        seen.add(record.run_id)
        out.setdefault(str(meta["provider"].value), []).append(
            RunCalls(record.run_id, int(meta["provider_calls"].value), int(meta["provider_calls_succeeded"].value))
        )
    return out


@dg.sensor(name="provider_health", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Provider success rate below 95% over the last 100 calls, or a total outage.")
def provider_health(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Prices: the `provider_calls` rows the prices asset writes per run, failed runs included.
    News: the news materializations' metadata (a failed news run is not counted)."""
    day = pd.Timestamp.now(tz="America/New_York").date()
    alerts = []
    for (_asset, provider), runs in recent_run_calls(warehouse.engine).items():
        alerts += provider_health_alerts(runs, provider, day=day)
    for provider, runs in _news_runs(context.instance).items():
        alerts += provider_health_alerts(runs, f"news/{provider}", day=day)
    return _record(context, warehouse, alerts, _state(context))


@dg.sensor(name="news_feed", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="The news feed stale (> news.stale_after_hours on a trading day) or symbols gone quiet.")
def news_feed(context: dg.SensorEvaluationContext, settings: SettingsResource, warehouse: WarehouseResource):
    config = settings.config
    now = pd.Timestamp.now(tz="UTC")
    trading_day = is_session(now.tz_convert("America/New_York").date(), config.prices.calendar)
    newest, per_symbol = news_recency(warehouse.engine)
    hours = config.news.stale_after_hours
    alerts = stale_news_alert(newest, now, trading_day, hours)
    alerts += news_inactivity_alert({s: per_symbol.get(s) for s in config.symbols}, now, trading_day, hours)
    return _record(context, warehouse, alerts, _state(context))


@dg.run_failure_sensor(name="run_failures", default_status=dg.DefaultSensorStatus.STOPPED,
                       description="Any failed run, once per run.")
def run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    error = context.failure_event.message if context.failure_event else None
    alerts = run_failure_alert(run.job_name, run.run_id, error, partition=run.tags.get("dagster/partition"))
    outbox.record(warehouse.engine, alerts, _now())


@dg.sensor(name="deliver_alerts", minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Sends the alerts the other sensors recorded: bounded time per tick, retries with backoff, "
                       "dead letters after repeated failures. Turn it on with them.")
def deliver_alerts(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, notifier: NotifierResource):
    report = drain(warehouse.engine, notifier.settings.config.notifications)
    for key in report.sent:
        context.log.info(f"alert {key} sent")
    for key, error in report.retrying.items():
        context.log.warning(f"alert {key} not delivered, will retry: {error}")
    for key, error in report.dead.items():
        context.log.error(f"alert {key} dead-lettered: {error}")
    return dg.SkipReason(report.summary())


ALERT_SENSORS = [index_daily_drop, index_held, stale_prices, failed_blocking_checks, provider_health, news_feed, run_failures,
                 deliver_alerts]

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
from autoindex_pipeline.defs.quality.results import FIRST_OFFENDING_SESSION, FIRST_OFFENDING_SYMBOLS
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.domain.alerts import (
    AlertLedger,
    FailedCheck,
    RunCalls,
    check_incident_alerts,
    check_sessions,
    daily_drop_alerts,
    index_held_alerts,
    news_inactivity_alert,
    outage_start,
    prices_stale_alerts,
    provider_health_alerts,
    provider_incident_key,
    run_failure_alert,
    stale_news_alert,
)
from autoindex_pipeline.domain.calendar import is_session
from autoindex_pipeline.domain.quality.rules import RULES
from autoindex_pipeline.warehouse import outbox
from autoindex_pipeline.warehouse.alerts import newest_price_date, news_recency, recent_index_rows
from autoindex_pipeline.warehouse.provider_calls import recent_run_calls, run_calls

SENSOR_INTERVAL_SECONDS = 300
PAGING_WARNINGS = frozenset(r.name for r in RULES if r.pages)
LEDGER = AlertLedger(max_keys=500)
RUNS_PER_TICK = 50
FIRST_TICK_LOOKBACK = dt.timedelta(days=1)
"""A check sensor without a cursor (first start, or an upgrade from the storage-id cursor) looks
at runs that ended this recently, not at the whole history: old failures were handled then."""
RUN_END_EVENTS = (dg.DagsterEventType.RUN_SUCCESS, dg.DagsterEventType.RUN_FAILURE)


_DECLARED: list[tuple[object, dict, bool]] = []  # (function, decorator arguments, is a run-failure sensor)


def _alert_sensor(*, run_failure: bool = False, **kwargs):
    """``dg.sensor`` (or ``dg.run_failure_sensor``) that also keeps the function and its arguments,
    so :func:`build_alert_sensors` can declare the same sensors with another default status (the
    module's own objects, used by tests and the simulation, ship stopped)."""

    def decorate(fn):
        _DECLARED.append((fn, kwargs, run_failure))
        return _declare(fn, kwargs, run_failure, dg.DefaultSensorStatus.STOPPED)

    return decorate


def _declare(fn, kwargs: dict, run_failure: bool, status: dg.DefaultSensorStatus):
    decorator = dg.run_failure_sensor if run_failure else dg.sensor
    return decorator(default_status=status, **kwargs)(fn)


def build_alert_sensors(status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED) -> list:
    """Every alert sensor, declared with ``status`` (AUTOINDEX_START_AUTOMATION=1 starts them with
    the schedules: a deployment left alone must page)."""
    return [_declare(fn, kwargs, run_failure, status) for fn, kwargs, run_failure in _DECLARED]


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


@_alert_sensor(name="index_daily_drop", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           description="Warning when a strategy's daily return <= its daily_drop_threshold, critical at 2x.")
def index_daily_drop(context: dg.SensorEvaluationContext, settings: SettingsResource,
                     warehouse: WarehouseResource):
    config = settings.config
    alerts = []
    for name, strat in config.strategies.items():
        rows = recent_index_rows(warehouse.engine, name, strat.version, limit=5)
        alerts += daily_drop_alerts(rows, strat.daily_drop_threshold, strategy=name)
    return _record(context, warehouse, alerts, _state(context))


@_alert_sensor(name="index_held", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
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


def _prices_outage(warehouse: WarehouseResource) -> str | None:
    """The incident key of a prices provider that is down now (its newest run's calls all
    failed), else None."""
    for (asset, provider), runs in recent_run_calls(warehouse.engine).items():
        if asset == "prices" and (start := outage_start(runs)) is not None:
            return provider_incident_key(provider, start)
    return None


@_alert_sensor(name="stale_prices", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           description="Newest stored close older than prices.stale_after_sessions sessions.")
def stale_prices(context: dg.SensorEvaluationContext, settings: SettingsResource, warehouse: WarehouseResource):
    """While the prices provider is down, the staleness is the outage's incident (its key), not
    a second page."""
    config = settings.config
    last = newest_price_date(warehouse.engine)
    alerts = prices_stale_alerts(last, _now(), config.prices.stale_after_sessions, calendar=config.prices.calendar,
                                 incident=_prices_outage(warehouse))
    return _record(context, warehouse, alerts, _state(context))


def _failed_checks(instance: dg.DagsterInstance, run_id: str) -> list[FailedCheck]:
    """The failed check evaluations of one finished run, with the sessions they are about."""
    run = instance.get_run_by_id(run_id)
    tags = dict(run.tags) if run is not None else {}
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        meta = {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}
        description = evaluation.description or "; ".join(f"{k}: {v}" for k, v in list(meta.items())[:4])
        symbols = tuple(s for s in str(meta.get(FIRST_OFFENDING_SYMBOLS) or "").split(",") if s)
        failed.append(FailedCheck(
            asset=evaluation.asset_key.to_user_string(), check=evaluation.check_name,
            severity=evaluation.severity.value, blocking=bool(evaluation.blocking), description=description,
            first_session=str(meta[FIRST_OFFENDING_SESSION]) if meta.get(FIRST_OFFENDING_SESSION) else None,
            symbols=symbols, sessions=check_sessions(evaluation.partition, tags),
            warning_pages=evaluation.check_name in PAGING_WARNINGS,
        ))
    return failed


def check_alerts_of_run(instance: dg.DagsterInstance, run_id: str) -> list:
    """The run's failed blocking checks as data incidents (domain.alerts.check_incident_alerts)."""
    return check_incident_alerts(_failed_checks(instance, run_id), run_id)


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


@_alert_sensor(name="failed_blocking_checks", minimum_interval_seconds=60,
           description="A failed blocking check (ERROR), critical, once per data incident (asset, first "
                       "offending session, symbols) however many runs re-fetch the same rows. WARN results "
                       "inform in the UI and the quality report; only those the registry marks as paging "
                       "(the validation rate) are sent, as warnings.")
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


@_alert_sensor(name="provider_health", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           description="Provider success rate below 95% over the last 100 calls, or a total outage.")
def provider_health(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Prices: the `provider_calls` rows the prices asset writes per run, failed runs included.
    News: the news materializations' metadata (a failed news run is not counted)."""
    alerts = []
    for (_asset, provider), runs in recent_run_calls(warehouse.engine).items():
        alerts += provider_health_alerts(runs, provider)
    for provider, runs in _news_runs(context.instance).items():
        alerts += provider_health_alerts(runs, f"news/{provider}")
    return _record(context, warehouse, alerts, _state(context))


@_alert_sensor(name="news_feed", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           description="The news feed stale (> news.stale_after_hours on a trading day) or symbols gone quiet.")
def news_feed(context: dg.SensorEvaluationContext, settings: SettingsResource, warehouse: WarehouseResource):
    config = settings.config
    now = pd.Timestamp.now(tz="UTC")
    trading_day = is_session(now.tz_convert("America/New_York").date(), config.prices.calendar)
    newest, per_symbol = news_recency(warehouse.engine)
    hours = config.news.stale_after_hours
    state = _state(context)
    alerts = stale_news_alert(newest, now, trading_day, hours)
    if alerts:
        state["feed_silent_at"] = now.isoformat()
    else:
        # Symbols gone quiet while the feed runs. While, and for a window after, the whole feed
        # is silent every symbol is quiet by consequence: that is the stale-feed incident.
        alerts = news_inactivity_alert({s: per_symbol.get(s) for s in config.symbols}, now, trading_day, hours,
                                       calendar=config.prices.calendar, feed_silent_at=state.get("feed_silent_at"))
    return _record(context, warehouse, alerts, state)


def _explained(instance: dg.DagsterInstance, warehouse: WarehouseResource, run_id: str) -> str | None:
    """Why a failed run needs no alert of its own: its failed blocking checks (sent as their
    data incident) or its provider being down (sent as the provider's incident)."""
    if any(f.stops for f in _failed_checks(instance, run_id)):
        return "its failed blocking checks are alerted as their data incident"
    # This run's rows only: among the newest 200 of every run, an older failed run's were missed.
    if any(r.total_failure for r in run_calls(warehouse.engine, run_id)):
        return "every provider call failed: alerted as the provider's outage"
    return None


@_alert_sensor(name="run_failures", run_failure=True,
                       description="A failed run, once per run, unless a failed blocking check or a provider "
                                   "outage (each alerted as its incident) explains it.")
def run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    reason = _explained(context.instance, warehouse, run.run_id)
    if reason is not None:
        context.log.info(f"run {run.run_id} failed; no separate alert: {reason}")
        return
    error = context.failure_event.message if context.failure_event else None
    alerts = run_failure_alert(run.job_name, run.run_id, error, partition=run.tags.get("dagster/partition"))
    outbox.record(warehouse.engine, alerts, _now())


@_alert_sensor(name="deliver_alerts", minimum_interval_seconds=60,
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

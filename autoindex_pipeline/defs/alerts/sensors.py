"""Alert sensors. Each keeps its dedup ledger (domain.alerts.AlertLedger) in its cursor, so an
alert fires once per event and a daemon restart does not re-send it; a new event (a new
date, a new run, a new failing check) fires again.

The cursor is saved only after delivery was attempted: a tick that crashed before sending
re-evaluates and sends next time. The notifier never raises.
"""

import json

import dagster as dg
import pandas as pd

from autoindex_pipeline.defs.alerts.resources import NotifierResource
from autoindex_pipeline.defs.resources import SettingsResource, WarehouseResource
from autoindex_pipeline.domain.alerts import (
    AlertLedger,
    daily_drop_alerts,
    failed_check_alert,
    news_inactivity_alert,
    provider_success_alert,
    run_failure_alert,
    stale_news_alert,
    stale_prices_alert,
)
from autoindex_pipeline.domain.calendar import is_session, last_closed_session
from autoindex_pipeline.warehouse.alerts import newest_price_date, news_recency, recent_index_rows

SENSOR_INTERVAL_SECONDS = 300
LEDGER = AlertLedger(max_keys=500)


def _deliver(context, notifier: NotifierResource, alerts, cursor_state: dict) -> dg.SkipReason | None:
    to_send, cursor_state["ledger"] = LEDGER.process(cursor_state.get("ledger"), alerts)
    base_url = notifier.settings.config.notifications.ui_base_url
    to_send = [a.with_run_url(base_url) for a in to_send]
    if to_send:
        notifier.send_all(to_send, context.log)
    context.update_cursor(json.dumps(cursor_state, sort_keys=True))
    return None if to_send else dg.SkipReason(f"{len(alerts)} condition(s), nothing new to send")


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
                     warehouse: WarehouseResource, notifier: NotifierResource):
    config = settings.config
    alerts = []
    for name, strat in config.strategies.items():
        rows = recent_index_rows(warehouse.engine, name, strat.version, limit=5)
        alerts += daily_drop_alerts(rows, strat.daily_drop_threshold, strategy=name)
    return _deliver(context, notifier, alerts, _state(context))


@dg.sensor(name="stale_prices", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Newest stored close older than prices.stale_after_sessions sessions.")
def stale_prices(context: dg.SensorEvaluationContext, settings: SettingsResource,
                 warehouse: WarehouseResource, notifier: NotifierResource):
    config = settings.config
    last = newest_price_date(warehouse.engine)
    expected = last_closed_session(calendar=config.prices.calendar)
    alerts = stale_prices_alert(last, expected, config.prices.stale_after_sessions, calendar=config.prices.calendar)
    return _deliver(context, notifier, alerts, _state(context))


@dg.sensor(name="failed_blocking_checks", minimum_interval_seconds=60,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="A failed asset check: critical when blocking, warning otherwise.")
def failed_blocking_checks(context: dg.SensorEvaluationContext, notifier: NotifierResource):
    state = _state(context)
    records = context.instance.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=state.get("after")),
        limit=500,
        ascending=True,
    )
    alerts = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data
        if evaluation.passed:
            continue
        blocking = evaluation.blocking if evaluation.blocking is not None else False
        description = evaluation.description or "; ".join(
            f"{k}: {v.value}" for k, v in list(evaluation.metadata.items())[:4]
        )
        alerts += failed_check_alert(
            evaluation.asset_key.to_user_string(), evaluation.check_name,
            evaluation.partition or pd.Timestamp(record.timestamp, unit="s").date().isoformat(),
            record.run_id, description, blocking=blocking,
        )
    if records:
        state["after"] = records[-1].storage_id
    return _deliver(context, notifier, alerts, state)


@dg.sensor(name="provider_health", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="Provider success rate below 95% over the last 100 calls.")
def provider_health(context: dg.SensorEvaluationContext, notifier: NotifierResource):
    """Call outcomes come from the fetching assets' materialization metadata (calls and
    successes per run); the newest runs are summed back until they cover 100 calls."""
    outcomes: dict[str, list[bool]] = {}
    for key in ("prices", "news_articles"):
        records = context.instance.fetch_materializations(dg.AssetKey(key), limit=100, ascending=False)
        for record in records.records:
            meta = record.asset_materialization.metadata if record.asset_materialization else {}
            provider = meta.get("provider")
            calls = meta.get("provider_calls")
            if provider is None or calls is None:
                continue
            seen = outcomes.setdefault(str(provider.value), [])
            if len(seen) >= 100:
                continue
            ok = int(meta["provider_calls_succeeded"].value)
            # Older runs go in front: the window is oldest first.
            outcomes[str(provider.value)] = [True] * ok + [False] * (int(calls.value) - ok) + seen
    day = pd.Timestamp.now(tz="America/New_York").date()
    alerts = [a for name, seq in outcomes.items() for a in provider_success_alert(seq, name, day=day)]
    return _deliver(context, notifier, alerts, _state(context))


@dg.sensor(name="news_feed", minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
           default_status=dg.DefaultSensorStatus.STOPPED,
           description="The news feed stale (> news.stale_after_hours on a trading day) or symbols gone quiet.")
def news_feed(context: dg.SensorEvaluationContext, settings: SettingsResource,
              warehouse: WarehouseResource, notifier: NotifierResource):
    config = settings.config
    now = pd.Timestamp.now(tz="UTC")
    trading_day = is_session(now.tz_convert("America/New_York").date(), config.prices.calendar)
    newest, per_symbol = news_recency(warehouse.engine)
    hours = config.news.stale_after_hours
    alerts = stale_news_alert(newest, now, trading_day, hours)
    alerts += news_inactivity_alert({s: per_symbol.get(s) for s in config.symbols}, now, trading_day, hours)
    return _deliver(context, notifier, alerts, _state(context))


@dg.run_failure_sensor(name="run_failures", default_status=dg.DefaultSensorStatus.STOPPED,
                       description="Any failed run, once per run.")
def run_failures(context: dg.RunFailureSensorContext, notifier: NotifierResource):
    run = context.dagster_run
    error = context.failure_event.message if context.failure_event else None
    alerts = run_failure_alert(run.job_name, run.run_id, error, partition=run.tags.get("dagster/partition"))
    base_url = notifier.settings.config.notifications.ui_base_url
    notifier.send_all([a.with_run_url(base_url) for a in alerts], context.log)


ALERT_SENSORS = [index_daily_drop, stale_prices, failed_blocking_checks, provider_health, news_feed, run_failures]

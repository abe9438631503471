"""The check and provider sensors on real Dagster instances, the embedded SQLite one (run-sharded
event log) and the production PostgreSQL one: consecutive ticks, the check's own severity and
sessions, and provider health from the runs' own call counts, failed runs included."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.alerts.sensors import failed_blocking_checks, index_held, provider_health, run_failures
from autoindex_pipeline.warehouse import outbox, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.provider_calls import record_run_calls
from autoindex_pipeline_tests.conftest import write_config

DAILY = dg.DailyPartitionsDefinition(start_date="2025-06-01")
OFFENDING = "| symbol | date |\n|---|---|\n| JPM | 2025-06-04 |"


@dg.asset(
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[dg.AssetCheckSpec("warns", asset="toy"), dg.AssetCheckSpec("blocks", asset="toy", blocking=True)],
)
def toy():
    yield dg.MaterializeResult(check_results=[
        dg.AssetCheckResult(check_name="warns", passed=False, severity=dg.AssetCheckSeverity.WARN,
                            metadata={"offending_rows": dg.MetadataValue.md(OFFENDING)}),
        dg.AssetCheckResult(check_name="blocks", passed=False, severity=dg.AssetCheckSeverity.ERROR,
                            description="1 row beyond the cap"),
    ])


def _tick(sensor, resources, instance, cursor):
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = sensor(context)
        return result, context.cursor


def _alerts(engine):
    return {r.dedup_key: r.alert for r in outbox.rows(engine)}


def test_the_check_sensor_pages_once_per_incident_and_ticks_on_after_its_first_tick(stack):
    path, config, instance = stack
    resources = build_definitions(path).resources
    engine = create_warehouse_engine(config.database_url())
    backfill = dg.materialize([toy], instance=instance, raise_on_error=False, tags={
        "dagster/asset_partition_range_start": "2025-06-02", "dagster/asset_partition_range_end": "2025-06-06"})
    assert not backfill.success  # the blocking ERROR check stops the run

    _, cursor = _tick(failed_blocking_checks, resources, instance, None)
    first = _alerts(engine)
    # The blocking ERROR check pages, once, naming the sessions; the WARN result informs only.
    assert {(a.kind, a.severity, a.partition) for a in first.values()} == {("failed_check", "critical", "2025-06-02")}
    [key] = first
    assert key == "data:toy:2025-06-02:all" and first[key].run_id == backfill.run_id
    assert "blocks" in first[key].title and "warns" not in first[key].title

    # The same range failing again in another run (a re-fetch that is still wrong) is the same
    # incident: nothing new. Measured: the check sensor's second tick failed on the run-sharded
    # SQLite storage ("get_event_records on a run-sharded event log storage with a cursor that
    # is not run-aware").
    dg.materialize([toy], instance=instance, raise_on_error=False, tags={
        "dagster/asset_partition_range_start": "2025-06-02", "dagster/asset_partition_range_end": "2025-06-06"})
    result, cursor = _tick(failed_blocking_checks, resources, instance, cursor)
    assert isinstance(result, dg.SkipReason) and "0 new" in result.skip_message
    # Another session failing is another incident.
    single = dg.materialize([toy], instance=instance, partition_key="2025-06-09", raise_on_error=False)
    result, cursor = _tick(failed_blocking_checks, resources, instance, cursor)
    assert "1 new" in result.skip_message
    second = {k: a for k, a in _alerts(engine).items() if k not in first}
    assert {(a.severity, a.partition, a.run_id) for a in second.values()} == {("critical", "2025-06-09", single.run_id)}
    # A third tick with nothing new records nothing, and a lost cursor re-records nothing either.
    result, cursor = _tick(failed_blocking_checks, resources, instance, cursor)
    assert "0 new" in result.skip_message
    _tick(failed_blocking_checks, resources, instance, None)
    assert len(outbox.rows(engine)) == 2


def test_provider_health_counts_each_run_once_and_sees_a_total_outage(stack, tmp_path, httpserver, monkeypatch):
    path, config, instance = stack
    resources = build_definitions(path).resources
    # A healthy 5-session run of the sample provider: its one call is recorded once.
    ok = run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"), instance=instance)
    assert ok.success
    engine = create_warehouse_engine(config.database_url())
    with engine.connect() as conn:
        rows = conn.execute(schema.provider_calls.select()).all()
    assert [(r.run_id, r.asset, r.provider, r.calls, r.succeeded) for r in rows] == [(ok.run_id, "prices", "sample", 1, 1)]
    # A run of 3 calls with one failure, however many partitions, is too few calls to judge.
    record_run_calls(engine, "run-3-calls", "prices", "twelvedata", 3, 2, 1)
    result, cursor = _tick(provider_health, resources, instance, None)
    assert outbox.rows(engine) == []

    # A total outage: every call fails, the run fails and materializes nothing.
    httpserver.expect_request("/time_series").respond_with_data("down", status=503)
    monkeypatch.setenv("TWELVEDATA_API_KEY", "test-key")
    outage_path = write_config(tmp_path, providers={"prices": "twelvedata", "shares": "sample", "twelvedata": {
        "base_url": httpserver.url_for(""), "credits_per_minute": 1000, "credits_per_day": 100000, "max_attempts": 1}})
    outage_config = load_config(outage_path)
    failed = run_prices_job(outage_config, str(outage_path), pd.Timestamp("2025-06-09"), pd.Timestamp("2025-06-10"),
                            instance=instance)
    assert not failed.success and not failed.asset_materializations_for_node("prices")
    with engine.connect() as conn:
        row = conn.execute(schema.provider_calls.select().where(schema.provider_calls.c.run_id == failed.run_id)).one()
    assert row.calls >= 1 and row.succeeded == 0 and row.failed == row.calls
    _tick(provider_health, resources, instance, cursor)
    [alert] = [r.alert for r in outbox.rows(engine)]
    assert (alert.kind, alert.severity, alert.asset, alert.run_id) == ("provider_outage", "critical", "twelvedata", failed.run_id)


@dg.asset(partitions_def=DAILY)
def broken():
    raise RuntimeError("the warehouse is read-only")


def _hand_over(instance, resources, run_id):
    event = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
    with dg.build_run_status_sensor_context(
        sensor_name="run_failures", dagster_event=event.event_log_entry.dagster_event, dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id), resources=resources,
    ) as context:
        run_failures(context.for_run_failure())


def test_a_failed_run_is_recorded_for_delivery_not_sent_inside_the_sensor(stack):
    path, config, instance = stack
    resources = build_definitions(path).resources
    engine = create_warehouse_engine(config.database_url())
    failed = dg.materialize([broken], instance=instance, partition_key="2025-06-09", raise_on_error=False)
    for _ in range(2):  # the daemon may hand the same failure over again: stored once
        _hand_over(instance, resources, failed.run_id)
    [row] = outbox.rows(engine)
    assert row.dedup_key == f"run_failure:{failed.dagster_run.job_name}:{failed.run_id}"
    assert (row.alert.severity, row.alert.partition, row.status) == ("critical", "2025-06-09", "pending")
    # Measured (the simulated fortnight): every run stopped by a blocking check also paged as a
    # run failure, a second critical for the same bad rows. The check's incident covers it.
    stopped = dg.materialize([toy], instance=instance, partition_key="2025-06-09", raise_on_error=False)
    _hand_over(instance, resources, stopped.run_id)
    assert [r.dedup_key for r in outbox.rows(engine)] == [row.dedup_key]


def test_an_index_hold_is_recorded_once_per_strategy_and_session(stack):
    path, config, instance = stack
    resources = build_definitions(path).resources
    engine = create_warehouse_engine(config.database_url())

    def report(**metadata):
        instance.report_runless_asset_event(dg.AssetMaterialization("index_values", metadata=metadata))

    report(**{"held_from": "2025-06-04", "held_reason": "default: JPM has no close", "default held_from": "2025-06-04"})
    _, cursor = _tick(index_held, resources, instance, None)
    report(**{"held_from": "2025-06-04", "held_reason": "default: JPM has no close", "default held_from": "2025-06-04"})
    _, cursor = _tick(index_held, resources, instance, cursor)  # still held at the same session
    assert [r.dedup_key for r in outbox.rows(engine)] == ["index_held:default:2025-06-04"]
    report(**{"dagster/row_count": 5})  # resumed
    report(**{"held_from": "2025-06-11", "held_reason": "default: KO has no close", "default held_from": "2025-06-11"})
    _tick(index_held, resources, instance, cursor)
    assert sorted(r.dedup_key for r in outbox.rows(engine)) == ["index_held:default:2025-06-04", "index_held:default:2025-06-11"]
    assert all(r.alert.severity == "warning" for r in outbox.rows(engine))

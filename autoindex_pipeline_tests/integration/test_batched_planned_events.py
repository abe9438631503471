"""The planned events of a CLI run on Dagster's PostgreSQL storage are written in batches
(``cli/runner.batched_planned_events``): the same rows in ``event_logs``, in the same order, and
the same asset key records as Dagster's one-by-one writes."""

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.cli import runner
from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline_tests.integration.conftest import open_stack

PLANNED = dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED


def _planned_rows(instance, run_id: str) -> list[tuple]:
    """(type, step, asset key, partition, message, specific data) of the run's planned events, by storage id."""
    records = instance.get_records_for_run(run_id, of_type=PLANNED, limit=100_000).records
    rows = []
    for record in sorted(records, key=lambda r: r.storage_id):
        event = record.event_log_entry.dagster_event
        rows.append((event.event_type_value, event.step_key, event.asset_key, event.partition, event.message,
                     event.event_specific_data))
    return rows


def _table_rows(instance, run_id: str, kind: dg.DagsterEventType = PLANNED) -> list[tuple]:
    """The ``kind`` events' own columns in ``event_logs`` (what the UI's queries filter on)."""
    engine = instance.event_log_storage._engine
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT dagster_event_type, step_key, asset_key, partition FROM event_logs "
            "WHERE run_id = :run AND dagster_event_type = :kind ORDER BY id"), {"run": run_id, "kind": kind.value})]


def _run_prices_week(instance, config, path):
    return run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"), instance=instance)


def test_planned_events_batched_are_the_rows_dagster_writes_one_by_one(request, tmp_path, monkeypatch):
    calls = []
    original = runner._store_planned_events

    def spy(storage, events):
        calls.append(len(events))
        return original(storage, events)

    monkeypatch.setattr(runner, "_store_planned_events", spy)
    with open_stack(request, "postgres", tmp_path, monkeypatch) as (path, config, instance):
        batched = _run_prices_week(instance, config, path)
        assert batched.success
        assert sum(calls) == 8, calls  # 5 sessions of prices; assets, corporate_actions, market_cap_data once
        with monkeypatch.context() as unpatched:
            unpatched.setattr(runner, "batched_planned_events", lambda instance: runner.contextlib.nullcontext())
            single = _run_prices_week(instance, config, path)
        assert single.success
        assert sum(calls) == 8

        assert _planned_rows(instance, batched.run_id) == _planned_rows(instance, single.run_id)
        assert _table_rows(instance, batched.run_id) == _table_rows(instance, single.run_id)
        assert len(_table_rows(instance, batched.run_id)) == 8
        # The asset key records name the newest run, as after one-by-one writes.
        prices = instance.get_asset_records([dg.AssetKey("prices")])[0]
        assert prices.asset_entry.last_run_id == single.run_id
        day = pd.Timestamp("2025-06-02")
        again = run_prices_job(config, path, day, day, instance=instance)
        assert instance.get_asset_records([dg.AssetKey("prices")])[0].asset_entry.last_run_id == again.run_id


def test_a_batch_that_fails_part_way_stores_each_event_once(request, tmp_path, monkeypatch):
    # A run's planned events come as one batch: its asset planned events, then its asset check
    # planned events. The asset planned events are written, then storing the first check event
    # fails: the rest of the batch is stored one by one, and Dagster's own fallback (which
    # stores the whole batch again, one by one) is not reached.
    from dagster_postgres.event_log.event_log import PostgresEventLogStorage

    original = PostgresEventLogStorage.store_event
    failed = []

    def store_event(self, event):
        if event.get_dagster_event().event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED and not failed:
            failed.append(event)
            raise RuntimeError("connection lost")
        return original(self, event)

    monkeypatch.setattr(PostgresEventLogStorage, "store_event", store_event)
    with open_stack(request, "postgres", tmp_path, monkeypatch) as (path, config, instance):
        result = _run_prices_week(instance, config, path)
        assert result.success
        assert failed
        rows = _table_rows(instance, result.run_id)
        assert len(rows) == 8, rows  # not 16
        assert len(set(rows)) == len(rows), rows  # no (asset, partition) event twice
        check_planned = dg.DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED
        checks = _table_rows(instance, result.run_id, check_planned)
        assert checks
        assert len(checks) == len(instance.get_records_for_run(result.run_id, of_type=check_planned, limit=1000).records)

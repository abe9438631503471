"""The capacity asset and the pruning of Dagster's run history, on SQLite and PostgreSQL (warehouse
and Dagster storage on the same backend, as deployed)."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.maintenance.capacity import prune_runs
from autoindex_pipeline.services.capacity import measure_capacity
from autoindex_pipeline.warehouse.capacity import read_history
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade


def _materialization(result, key: str):
    return next(e for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
                and e.event_specific_data.materialization.asset_key == dg.AssetKey(key)).event_specific_data.materialization


def test_the_capacity_asset_measures_tables_dagster_storage_and_disk(stack):
    path, config, instance = stack
    assert run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"), instance=instance).success
    result = build_definitions(path).resolve_job_def("capacity_job").execute_in_process(instance=instance)
    assert result.success
    meta = _materialization(result, "capacity").metadata
    assert meta["database_bytes"].value > 0 and meta["free_disk_bytes"].value > 0
    assert meta["dagster_storage_bytes"].value > 0
    postgres = config.database_url().startswith("postgresql")
    assert meta["dagster_storage"].value == ("postgres" if postgres else "files")
    assert meta["growth_bytes_per_day"].value == "n/a" and meta["snapshot_days"].value == 1  # one snapshot: no growth yet
    page = meta["tables"].value
    assert "![capacity](data:image/png;base64," in page and "| prices | 65 |" in page  # 13 symbols x 5 sessions
    check = result.get_asset_check_evaluations()[0]
    assert check.check_name == "capacity_limits" and check.severity == dg.AssetCheckSeverity.WARN
    # A second measurement the same day replaces the day's snapshot instead of adding one.
    engine = create_warehouse_engine(config.database_url())
    assert build_definitions(path).resolve_job_def("capacity_job").execute_in_process(instance=instance).success
    history = read_history(engine)
    assert history["day"].nunique() == 1
    assert set(history["kind"]) == {"table", "database", "dagster", "disk"}
    tables = history[history["kind"] == "table"].set_index("name")
    assert tables.loc["prices", "rows"] == 65 and tables.loc["prices", "index_bytes"] > 0


def test_growth_comes_from_the_stored_history_and_the_lines_warn(stack):
    path, config, _ = stack
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    day1 = dt.datetime(2026, 3, 1, 6, tzinfo=dt.UTC)
    first = measure_capacity(engine, config, dagster_bytes=1000, now=day1)
    assert first.growth.per_day is None and first.growth.per_month is None
    assert run_prices_job(config, path, pd.Timestamp("2025-01-02"), pd.Timestamp("2025-03-31")).success
    strict = config.model_copy(update={"maintenance": config.maintenance.model_copy(update={
        "capacity": config.maintenance.capacity.model_copy(update={"max_growth_mb_per_month": 0.001,
                                                                   "min_free_disk_gb": 0.0, "min_free_disk_fraction": 0.0}),
    })})
    second = measure_capacity(engine, strict, dagster_bytes=2000, now=day1 + dt.timedelta(days=2))
    grown = second.database_bytes - first.database_bytes
    assert grown > 0
    assert second.growth.per_day == pytest.approx(grown / 2)
    assert second.growth.per_month == pytest.approx(grown / 2 * 30) and second.snapshots == 2
    assert len(second.problems) == 1 and "a month, above 0 MB" in second.problems[0]
    assert "Over the configured lines" in second.markdown


def _add_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus) -> str:
    run = instance.create_run_for_job(dg.GraphDefinition(name="noop", node_defs=[]).to_job(), run_config={})
    instance.handle_run_event(run.run_id, dg.DagsterEvent(
        event_type_value={dg.DagsterRunStatus.SUCCESS: "PIPELINE_SUCCESS", dg.DagsterRunStatus.FAILURE: "PIPELINE_FAILURE",
                          dg.DagsterRunStatus.STARTED: "PIPELINE_START"}[status],
        job_name="noop",
    ))
    return run.run_id


def test_pruning_keeps_recent_runs_failures_longer_and_never_a_running_one(stack):
    _, _, instance = stack
    ok, failed, running = (_add_run(instance, s) for s in
                           (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.STARTED))
    assert instance.get_run_by_id(failed).status == dg.DagsterRunStatus.FAILURE
    created = max(r.create_timestamp for r in instance.get_run_records())  # the storage's own clock
    assert prune_runs(instance, created + dt.timedelta(days=30), keep_days=90, keep_failed_days=365) == {"finished": 0, "failed": 0}
    assert prune_runs(instance, created + dt.timedelta(days=100), keep_days=90, keep_failed_days=365) == {"finished": 1, "failed": 0}
    assert instance.get_run_by_id(ok) is None and instance.get_run_by_id(failed) is not None
    assert prune_runs(instance, created + dt.timedelta(days=400), keep_days=90, keep_failed_days=365) == {"finished": 0, "failed": 1}
    assert instance.get_run_by_id(failed) is None
    assert instance.get_run_by_id(running) is not None  # in progress: never deleted, however old


def test_the_prune_job_runs_and_keeps_its_own_run(stack):
    path, _, instance = stack
    result = build_definitions(path).resolve_job_def("prune_run_history_job").execute_in_process(instance=instance)
    assert result.success
    output = next(e for e in result.all_events if e.event_type_value == "STEP_OUTPUT").event_specific_data.metadata
    assert output["deleted_finished_runs"].value == 0 and output["keep_days"].value == 90
    assert instance.get_run_by_id(result.run_id) is not None

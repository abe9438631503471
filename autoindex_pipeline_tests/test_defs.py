"""The code location loads, for the embedded default and for the production settings, and every
job, schedule and sensor resolves to what it should target."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR
from autoindex_pipeline.definitions import EXECUTOR_ENV_VAR, build_definitions, defs

REPO_ROOT = Path(__file__).resolve().parent.parent

PRICE_ASSETS = {"assets", "corporate_actions", "prices", "market_cap_data"}
INDEX_ASSETS = {"quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics", "performance_reports"}
NEWS_ASSETS = {"news_articles", "news_sentiment", "sentiment_daily"}

# job -> the assets it materializes (None: an op job)
JOBS = {
    "prices_job": PRICE_ASSETS,
    "pipeline_job": PRICE_ASSETS | INDEX_ASSETS,
    "index_job": INDEX_ASSETS,
    "news_job": NEWS_ASSETS,
    "news_retention_job": {"news_archive"},
    "analyze_warehouse_job": None,
    "vacuum_warehouse_job": None,
    "warehouse_backup_job": None,
    "backup_restore_test_job": None,
    "capacity_job": {"capacity"},
    "prune_run_history_job": None,
    "reconciliation_job": None,
    "operations_checklist_job": {"operations_checklist"},
    "ownership_job": {"insider_transactions", "institutional_holdings"},
}
# schedule -> (job, cron in New York)
SCHEDULES = {
    "prices_after_close": ("prices_job", "0 18 * * 1-5"),
    "catch_up": ("prices_job", "0 7,21 * * *"),
    "news_every_15_minutes": ("news_job", "*/15 * * * *"),
    "warehouse_backup_schedule": ("warehouse_backup_job", "0 1 * * *"),
    "news_retention_schedule": ("news_retention_job", "30 1 * * *"),
    "analyze_warehouse_schedule": ("analyze_warehouse_job", "0 20 * * 1-5"),
    "vacuum_analyze_warehouse_schedule": ("vacuum_warehouse_job", "0 3 * * 0"),
    "backup_restore_test_schedule": ("backup_restore_test_job", "0 4 1 * *"),
    "capacity_schedule": ("capacity_job", "0 6 * * *"),
    "prune_run_history_schedule": ("prune_run_history_job", "0 5 1 * *"),
    "reconciliation_schedule": ("reconciliation_job", "0 6 2 * *"),
    "operations_checklist_schedule": ("operations_checklist_job", "0 7 * * 1"),
    "ownership_weekly": ("ownership_job", "0 10 * * 6"),
}
ALERT_SENSORS = {"index_daily_drop", "stale_prices", "failed_blocking_checks", "provider_health", "news_feed", "run_failures",
                 "index_held", "deliver_alerts"}


def _assert_location(definitions: dg.Definitions, executor: str) -> None:
    repo = definitions.get_repository_def()
    jobs = {job.name: job for job in repo.get_all_jobs() if not job.name.startswith("__")}
    assert set(jobs) == set(JOBS)
    for name, assets in JOBS.items():
        job = jobs[name]
        assert job.executor_def.name == executor, name
        if assets is None:
            assert not job.asset_layer.executable_asset_keys, name
        else:
            assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == assets, name

    schedules = {s.name: s for s in repo.schedule_defs}
    assert set(schedules) == set(SCHEDULES)
    for name, (job_name, cron) in SCHEDULES.items():
        schedule = schedules[name]
        assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (job_name, cron, "America/New_York")
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, name

    sensors = {s.name: s for s in repo.sensor_defs}
    # Dagster adds the default automation sensor for the assets with an AutomationCondition.
    assert set(sensors) == ALERT_SENSORS | {"default_automation_condition_sensor"}
    assert all(sensors[name].default_status == dg.DefaultSensorStatus.STOPPED for name in ALERT_SENSORS)
    graph = definitions.resolve_asset_graph()
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None}
    assert automated == INDEX_ASSETS  # the scheduled path: prices and news by schedule, the rest by automation

    prices = definitions.resolve_assets_def("prices")
    assert prices.backfill_policy == dg.BackfillPolicy.single_run()
    assert prices.partitions_def.get_first_partition_key() == str(dt.date(2016, 1, 4))
    assert definitions.resolve_job_def("pipeline_job").partitions_def == prices.partitions_def
    assert {"settings", "warehouse", "providers", "notifier"} <= set(definitions.resources)


def test_the_embedded_default_loads(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    monkeypatch.delenv(EXECUTOR_ENV_VAR, raising=False)
    loaded = defs()  # what `dagster dev` / workspace.yaml load
    assert isinstance(loaded, dg.Definitions)
    _assert_location(loaded, "in_process")


@pytest.mark.parametrize(("choice", "executor"), [(None, "in_process"), ("multiprocess", "multiprocess"), ("celery", "celery")])
def test_the_production_settings_load(tmp_path, monkeypatch, choice, executor):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
    from dagster_postgres import DagsterPostgresStorage

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    for key, value in {"DAGSTER_HOME": str(home), "DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "secret",
                       "DAGSTER_PG_HOST": "db.invalid", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": "dagster",
                       "DAGSTER_COMPUTE_LOG_DIR": str(tmp_path / "logs"),
                       DATABASE_URL_ENV_VAR: "postgresql://autoindex:secret@db.invalid:5432/autoindex",
                       "AUTOINDEX_CELERY_BROKER": "pyamqp://guest@db.invalid//"}.items():
        monkeypatch.setenv(key, value)
    if choice is None:
        monkeypatch.delenv(EXECUTOR_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(EXECUTOR_ENV_VAR, choice)

    # The shipped instance file validates and resolves its variables (no server is contacted).
    config, _ = dagster_instance_config(str(home))
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    assert storage.value["postgres_db"] | {"params": None} == {
        "username": "dagster", "password": "secret", "hostname": "db.invalid", "db_name": "dagster", "port": 5432,
        "params": None, "scheme": "postgresql+psycopg2"}
    logs = process_config(LocalComputeLogManager.config_type(), config["compute_logs"]["config"])
    assert logs.value == {"base_dir": str(tmp_path / "logs")}
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"

    loaded = build_definitions()
    _assert_location(loaded, executor)
    # The warehouse URL (it may carry a password) reaches Dagster as the variable, not its value.
    assert loaded.resources["warehouse"].url == dg.EnvVar(DATABASE_URL_ENV_VAR)

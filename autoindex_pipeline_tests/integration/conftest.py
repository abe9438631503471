"""Fixtures of the integration tests: a whole stack (config, warehouse, Dagster instance) on
each backend."""

import contextlib
import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline_tests.conftest import reset_postgres_schema, write_config

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def production_instance(dagster_db_url, tmp_path, monkeypatch):
    """The shipped production dagster.yaml (PostgreSQL storage, queued runs), pointed at the
    test database through the same environment variables a deployment sets."""
    url = sa.engine.make_url(dagster_db_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    for key, value in {
        "DAGSTER_PG_USERNAME": url.username or "postgres", "DAGSTER_PG_PASSWORD": url.password or "",
        "DAGSTER_PG_HOST": url.host or "127.0.0.1", "DAGSTER_PG_PORT": str(url.port or 5432),
        "DAGSTER_PG_DB": url.database, "DAGSTER_COMPUTE_LOG_DIR": str(home / "logs"),
    }.items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.from_config(str(home))
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    try:
        yield instance
    finally:
        instance.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def stack(request, tmp_path, monkeypatch):
    """(config_path, config, dagster instance) on one backend; the warehouse URL comes from
    $AUTOINDEX_DATABASE_URL as in production."""
    if request.param == "sqlite":
        warehouse = f"sqlite:///{tmp_path / 'wh.sqlite'}"
        (tmp_path / "dagster").mkdir()
        instance_cm = dg.instance_for_test(temp_dir=str(tmp_path / "dagster"))
    else:
        urls = request.getfixturevalue("pg_databases")
        warehouse = urls["warehouse"]
        reset_postgres_schema(warehouse)
        reset_postgres_schema(urls["dagster"])
        create_warehouse_engine.cache_clear()
        instance_cm = production_instance(urls["dagster"], tmp_path, monkeypatch)
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse)
    path = write_config(tmp_path)
    with instance_cm as instance:
        yield str(path), load_config(path), instance

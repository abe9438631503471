"""Fixtures of the integration tests: a whole stack (config, warehouse, Dagster instance) on
each backend, and warehouse templates: a state that several tests start from (prices fetched,
an index computed) built once per backend and test session, then copied into each test's own
warehouse, so a test that only reads it or changes its copy does not pay the runs again."""

import contextlib
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline_tests.conftest import (
    _admin_engine,
    _url_for,
    create_test_database,
    reset_postgres_schema,
    write_config,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", "postgres"]


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


@contextlib.contextmanager
def open_stack(request, backend, tmp_path, monkeypatch, warehouse=None, **config_overrides):
    """(config_path, config, dagster instance) on ``backend``: a fresh Dagster instance (the
    production one on PostgreSQL) and ``warehouse`` (default: an empty one), named by
    $AUTOINDEX_DATABASE_URL as in production; the config is ``write_config(tmp_path, **config_overrides)``."""
    if backend == "sqlite":
        warehouse = warehouse or f"sqlite:///{tmp_path / 'wh.sqlite'}"
        (tmp_path / "dagster").mkdir()
        instance_cm = dg.instance_for_test(temp_dir=str(tmp_path / "dagster"))
    else:
        urls = request.getfixturevalue("pg_databases")
        if warehouse is None:
            warehouse = urls["warehouse"]
            reset_postgres_schema(warehouse)
        reset_postgres_schema(urls["dagster"])
        instance_cm = production_instance(urls["dagster"], tmp_path, monkeypatch)
    create_warehouse_engine.cache_clear()
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse)
    path = write_config(tmp_path, **config_overrides)
    with instance_cm as instance:
        yield str(path), load_config(path), instance


@pytest.fixture(params=BACKENDS)
def stack(request, tmp_path, monkeypatch):
    """(config_path, config, dagster instance) on one backend; the warehouse URL comes from
    $AUTOINDEX_DATABASE_URL as in production."""
    with open_stack(request, request.param, tmp_path, monkeypatch) as opened:
        yield opened


def _dispose_warehouse(url: str) -> None:
    # A template is copied file by file (SQLite) or by CREATE DATABASE ... TEMPLATE, which
    # PostgreSQL refuses while anyone is connected to the template: let go of the pool first.
    create_warehouse_engine(url).dispose()
    create_warehouse_engine.cache_clear()


class WarehouseTemplates:
    """Warehouse states built once per (backend, name) and test session, copied per test."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory):
        self._factory = tmp_path_factory
        self._suffix = uuid.uuid4().hex[:8]
        self._built: dict[tuple[str, str], str] = {}
        self._pg_databases: list[str] = []

    def _build(self, request, backend, name, build, monkeypatch, config_overrides) -> str:
        tmp = self._factory.mktemp(f"template_{name}_{backend}")
        if backend == "sqlite":
            url = f"sqlite:///{tmp / 'template.sqlite'}"
        else:
            database = f"autoindex_test_tpl_{name}_{self._suffix}"
            self._create_pg(database)
            url = _url_for(database, "postgresql+psycopg")
        with monkeypatch.context() as scoped, open_stack(request, backend, tmp, scoped, url, **config_overrides) as built:
            build(*built)
        _dispose_warehouse(url)
        return url

    def _create_pg(self, database: str, template: str | None = None) -> None:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            create_test_database(conn, database, template)
        admin.dispose()
        if database not in self._pg_databases:
            self._pg_databases.append(database)

    @contextlib.contextmanager
    def stack(self, request, backend: str, name: str, build: Callable, tmp_path: Path, monkeypatch,
              **config_overrides):
        """A stack (as ``open_stack``) whose warehouse is a copy of the template ``name``:
        ``build(config_path, config, instance)`` run once per backend on a fresh stack with the
        same config. The Dagster instance is fresh: the copied state lives in the warehouse."""
        key = (backend, name)
        if key not in self._built:
            self._built[key] = self._build(request, backend, name, build, monkeypatch, config_overrides)
        template = self._built[key]
        if backend == "sqlite":
            copy = f"sqlite:///{tmp_path / 'wh.sqlite'}"
            # The backup API copies a consistent database, whatever WAL state the file is in.
            with contextlib.closing(sqlite3.connect(sa.engine.make_url(template).database)) as source, \
                    contextlib.closing(sqlite3.connect(tmp_path / "wh.sqlite")) as target:
                source.backup(target)
        else:
            database = f"autoindex_test_copy_{self._suffix}"
            self._create_pg(database, template=sa.engine.make_url(template).database)
            copy = _url_for(database, "postgresql+psycopg")
        with open_stack(request, backend, tmp_path, monkeypatch, copy, **config_overrides) as opened:
            yield opened
        _dispose_warehouse(copy)

    def drop(self) -> None:
        if not self._pg_databases:
            return
        admin = _admin_engine()
        with admin.connect() as conn:
            for database in self._pg_databases:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def warehouse_templates(tmp_path_factory):
    templates = WarehouseTemplates(tmp_path_factory)
    yield templates
    templates.drop()

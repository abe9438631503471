"""Shared fixtures: real databases (a SQLite file, and a fresh PostgreSQL database per test
session on the server at $AUTOINDEX_TEST_PG_URL), small configs and real Dagster instances."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

# Tests read no terminal: no progress bars, no telemetry.
os.environ.setdefault("AUTOINDEX_PROGRESS", "0")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


def _use_memory_backed_tmp() -> None:
    """Temporary files (every tmp_path, so each test's SQLite warehouse and Dagster storage, and
    the subprocesses' temp dirs) on tmpfs when the machine has one. Dagster's SQLite storage
    commits each event on its own, and on a disk shared with other jobs every commit waits for
    its fsync: a 60-session prices run took 11-12 s with them on disk and 5-7 s on tmpfs
    (same machine, interleaved). Nothing the tests check depends on the disk surviving a crash.
    ``AUTOINDEX_TEST_TMPDIR`` chooses another place (``-`` keeps the system default); an explicit
    ``TMPDIR`` is kept."""
    chosen = os.environ.get("AUTOINDEX_TEST_TMPDIR", "/dev/shm")
    if chosen == "-" or {"TMPDIR", "PYTEST_DEBUG_TEMPROOT"} & set(os.environ) or not os.access(chosen, os.W_OK):
        return
    os.environ["TMPDIR"] = chosen
    os.environ["PYTEST_DEBUG_TEMPROOT"] = chosen  # pytest's own root of tmp_path
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again


_use_memory_backed_tmp()

PG_ADMIN_URL = os.environ.get("AUTOINDEX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# A small universe that still holds the benchmark and every symbol the sample provider injects
# a fault into, so integration tests see realistic data in a few seconds.
TEST_SYMBOLS = ["AAPL", "MSFT", "XOM", "GLD", "QQQ", "KO", "NVDA", "JPM", "BA", "GEV", "WBA", "MMM"]


def create_test_database(conn, name: str, template: str | None = None) -> None:
    """A test database that commits without waiting for its WAL flush (``synchronous_commit``
    off, for this database only): Dagster's storage writes many small transactions, and a test
    never outlives a server crash. (A copy of a template does not inherit it: set per database.)"""
    conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')


def _admin_engine() -> sa.Engine:
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _url_for(database: str, driver: str) -> str:
    return (
        sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(hide_password=False)
    )


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[dict[str, str]]:
    """Two fresh databases for this test session (warehouse, Dagster storage), dropped after."""
    admin = _admin_engine()
    suffix = uuid.uuid4().hex[:8]
    names = {"warehouse": f"autoindex_test_wh_{suffix}", "dagster": f"autoindex_test_dg_{suffix}"}
    try:
        with admin.connect() as conn:
            for name in names.values():
                create_test_database(conn, name)
    except sa.exc.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc.orig}); start it or set AUTOINDEX_TEST_PG_URL")
    yield {
        "warehouse": _url_for(names["warehouse"], "postgresql+psycopg"),
        "dagster": _url_for(names["dagster"], "postgresql+psycopg2"),
    }
    with admin.connect() as conn:
        for name in names.values():
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def reset_postgres_schema(url: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty warehouse on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    url = request.getfixturevalue("pg_databases")["warehouse"]
    reset_postgres_schema(url)
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    create_warehouse_engine.cache_clear()
    return url


def write_config(tmp_path: Path, **overrides: object) -> Path:
    """A config file in ``tmp_path``: the packaged defaults with a small universe, merged with
    ``overrides`` (nested dicts merge key by key)."""
    from autoindex_pipeline.config import DEFAULT_CONFIG_PATH

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["universe"]["file"] = str(DEFAULT_CONFIG_PATH.parent / "universe.csv")
    raw["universe"]["symbols"] = TEST_SYMBOLS
    raw["storage"]["data_dir"] = str(tmp_path / "data")
    # The packaged example strategies cap weights at 5%, infeasible on a 13-symbol universe.
    raw["strategies"] = {"default": raw["strategies"]["default"]}

    def merge(base: dict, extra: dict) -> dict:
        for key, value in extra.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    merge(raw, overrides)
    path = tmp_path / "autoindex.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _no_leftover_dagster_state_storage():
    """Dagster keeps the current instance's defs-state storage in a context variable; a test
    whose sensor or schedule context created and disposed an ephemeral instance leaves it set,
    and the next test's Definitions load then dereferences a dead instance. Start each test
    without one (what a fresh process has)."""
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
    yield

"""Shared fixtures: real databases (a SQLite file, and a fresh PostgreSQL database per test
session on the server at $AUTOINDEX_TEST_PG_URL), small configs and real Dagster instances.

The suite runs on two pytest-xdist workers (``-n 2 --dist loadgroup`` in pyproject.toml); each
worker is its own test session, so ``pg_databases``, the warehouse templates and every tmp_path
are its own. What a test author must know:

* A module-scoped (or class-, package-scoped) fixture is built once per worker that runs one of
  its tests. ``pytest_collection_modifyitems`` below puts every test of such a module in one
  group (one worker), so a deployment or a Celery worker is started once, as before. Tests
  using ``warehouse_templates`` are grouped per backend, so each template is built once. A test
  may also name its group with ``pytest.mark.xdist_group("name")`` (honoured by the scheduler
  here: xdist's own grouping does not work on pytest 9).
* A session-scoped fixture is built once per worker, so twice a suite: keep it cheap, or put
  its users in one ``xdist_group``.
* Mark a test (or a module, with ``pytestmark``) ``heavy(seconds)`` when it takes more than about
  15 s alone: under xdist the heaviest work is handed out first, so a long test does not start
  last and leave the other worker idle. ``seconds`` is a rough figure on a quiet machine.
* Anything shared outside the session (a TCP port, a file in the repository, a queue on the
  RabbitMQ broker, a database name) must be free or uuid-named per test, or the module grouped.
* ``-n 0`` runs serially, in file order (a single test file alone is quicker that way).
"""

from __future__ import annotations

import json
import os
import shutil
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


# --- Scheduling on pytest-xdist workers ---------------------------------------------------------

_SHARED_SCOPES = {"class", "module", "package"}
BACKEND_PARAMS = ("sqlite", "postgres")
# A test that builds a warehouse template (or waits for its group to): its group's first test
# pays for the prices and index runs, about a minute per backend on a quiet machine.
TEMPLATE_SECONDS = 60


def _module(item: pytest.Item) -> str:
    return item.nodeid.split("::", 1)[0]


def _uses_shared_fixture(item: pytest.Item) -> bool:
    return any(definitions and definitions[-1].scope in _SHARED_SCOPES
               for definitions in item._fixtureinfo.name2fixturedefs.values())


def _xdist_group(item: pytest.Item, shared_modules: set[str]) -> str | None:
    """The worker-sharing unit a test must stay in: the templates of its backend, or its module
    when a test of it uses a fixture that lives longer than one test (built once per worker that
    runs it; the whole module, since a test may ask for it by ``request.getfixturevalue``)."""
    if "warehouse_templates" in item.fixturenames:
        callspec = getattr(item, "callspec", None)
        backends = sorted({str(v) for v in (callspec.params.values() if callspec else ()) if v in BACKEND_PARAMS})
        return "warehouse_templates-" + "-".join(backends or ["any"])
    return _module(item) if _module(item) in shared_modules else None


def _seconds(item: pytest.Item) -> float:
    heavy = item.get_closest_marker("heavy")
    marked = float(heavy.args[0] if heavy and heavy.args else heavy.kwargs.get("seconds", 15)) if heavy else 0.0
    return max(marked, TEMPLATE_SECONDS if "warehouse_templates" in item.fixturenames else 0.0)


# pytest-xdist 3.8's own `loadgroup` puts the group into ``item._nodeid``, which pytest 9 no
# longer reads (a node's id is ``item._id``): its xdist_group marks group nothing. The workers
# write each test's group to a file, and the controller's scheduler below reads it.
GROUPS_ENV_VAR = "AUTOINDEX_TEST_XDIST_GROUPS"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        # Set before the workers start, so they inherit it.
        os.environ[GROUPS_ENV_VAR] = tempfile.mkdtemp(prefix="autoindex-xdist-groups-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and os.environ.get(GROUPS_ENV_VAR):
        shutil.rmtree(os.environ.pop(GROUPS_ENV_VAR), ignore_errors=True)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadgroup``: xdist's load-scope scheduling, one unit per group the workers
    recorded (a test without a group is a unit of its own)."""
    if config.getoption("dist", "no") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    directory = Path(os.environ[GROUPS_ENV_VAR])

    class GroupScheduling(LoadScopeScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once every worker has collected (the first call)
                self.groups = {}
                for path in sorted(directory.glob("*.json")):
                    self.groups.update(json.loads(path.read_text()))
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    shared_modules = {_module(item) for item in items if _uses_shared_fixture(item)}
    groups = {}
    for item in items:
        group = _xdist_group(item, shared_modules)
        marked = [str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")]
        if group is not None or marked:
            groups[item.nodeid] = "group:" + "_".join(sorted({*marked, *([group] if group else [])}))
    if not hasattr(config, "workerinput"):
        return  # a serial run keeps the file order
    directory = os.environ.get(GROUPS_ENV_VAR)
    if directory:
        final = Path(directory) / f"{config.workerinput['workerid']}.json"
        partial = final.with_suffix(".tmp")
        partial.write_text(json.dumps(groups))
        partial.replace(final)  # whole or absent

    # Every worker sorts the same way (xdist requires one collection order): the heaviest first,
    # then the integration and end-to-end tests, the many short unit tests last to fill the gaps.
    def rank(item: pytest.Item) -> tuple[float, int]:
        slow_folder = any(part in ("integration", "e2e") for part in item.path.parts)
        return -_seconds(item), 0 if slow_folder else 1

    items.sort(key=rank)

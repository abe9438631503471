"""The production topology on this machine, for the benchmarks: fresh PostgreSQL databases, the
shipped dagster.yaml, and the compose file's processes (code server, webserver, daemon, Celery
workers) on free ports. The benchmarks' own copy: they measure, so they keep none of the test
suite's fake secrets or log assertions, and never import test code.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION_NAME = "autoindex_pipeline"
REPOSITORY_NAME = "__repository__"
PG_ADMIN_URL = os.environ.get("AUTOINDEX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CELERY_BROKER = os.environ.get("AUTOINDEX_TEST_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
CELERY_BACKEND = os.environ.get("AUTOINDEX_TEST_CELERY_BACKEND", "redis://127.0.0.1:6379/0")


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.5, what: str = "condition",
             on_timeout: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        time.sleep(interval)
    detail = on_timeout() if on_timeout else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc!r})\n{detail}")


def _pg_url(database: str, driver: str = "postgresql+psycopg") -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database).render_as_string(hide_password=False)


@contextlib.contextmanager
def fresh_databases(*roles: str, prefix: str) -> Iterator[dict[str, str]]:
    """Fresh databases (one per role), dropped afterwards; yields their names."""
    admin = sa.create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")
    names = {role: f"{prefix}_{role}_{uuid.uuid4().hex[:8]}" for role in roles}
    with admin.connect() as conn:
        for name in names.values():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def write_dagster_home(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def deployment_env(home: Path, dagster_db: str, warehouse_db: str, config_path: Path,
                   extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What .env.example lists, filled in for this machine."""
    admin = sa.engine.make_url(PG_ADMIN_URL)
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USERNAME": admin.username or "postgres",
        "DAGSTER_PG_PASSWORD": admin.password or "",
        "DAGSTER_PG_HOST": admin.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(admin.port or 5432),
        "DAGSTER_PG_DB": dagster_db,
        "DAGSTER_COMPUTE_LOG_DIR": str(home / "compute_logs"),
        "AUTOINDEX_DATABASE_URL": _pg_url(warehouse_db),
        "AUTOINDEX_CONFIG": str(config_path),
        "AUTOINDEX_PROGRESS": "0",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
        **(extra or {}),
    }


def celery_env(home: Path, dagster_db: str, warehouse_db: str, config_path: Path) -> dict[str, str]:
    return deployment_env(home, dagster_db, warehouse_db, config_path, extra={
        "AUTOINDEX_EXECUTOR": "celery", "AUTOINDEX_CELERY_BROKER": CELERY_BROKER, "AUTOINDEX_CELERY_BACKEND": CELERY_BACKEND})


@contextlib.contextmanager
def instance_from(env: Mapping[str, str]):
    """The instance the processes share, opened here with their DAGSTER_* variables set (the
    instance resolves parts of its config lazily); this process's environment is restored after."""
    import dagster as dg

    keys = [k for k in env if k.startswith("DAGSTER_")]
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: env[k] for k in keys})
    instance = None
    try:
        instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
        yield instance
    finally:
        if instance is not None:
            instance.dispose()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _bin(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Processes:
    """Processes in their own sessions, each logging to a file; stopped with SIGTERM to the
    process group, then SIGKILL after a grace period."""

    log_dir: Path
    started: list[tuple[str, subprocess.Popen, Path]] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: Mapping[str, str]) -> Path:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            popen = subprocess.Popen(args, env=dict(env), cwd=str(REPO_ROOT), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self.started.append((name, popen, log_path))
        return log_path

    def check_alive(self) -> None:
        for name, popen, log_path in self.started:
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {popen.returncode}; log: {log_path}")

    def tails(self, lines: int = 30) -> str:
        out = []
        for name, _, log_path in self.started:
            text = log_path.read_text(errors="replace").splitlines() if log_path.exists() else []
            out.append(f"--- {name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def stop(self, grace: float = 15.0) -> None:
        for _, popen, _ in reversed(self.started):
            if popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, popen, _ in reversed(self.started):
            try:
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(timeout=10)
        self.started.clear()


@dataclass
class Topology:
    env: dict[str, str]
    group: Processes
    web_port: int

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict:
        import httpx

        response = httpx.post(f"http://127.0.0.1:{self.web_port}/graphql",
                              json={"query": query, "variables": dict(variables or {})}, timeout=60)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


@contextlib.contextmanager
def topology(env: dict[str, str], log_dir: Path, startup_timeout: float = 120) -> Iterator[Topology]:
    """The compose file's code server, webserver and daemon (deploy/workspace.grpc.yaml) on free
    ports, stopped however the block ends."""
    grpc_port, web_port = _free_port(), _free_port()
    env = {**env, "DAGSTER_CODE_SERVER_HOST": "127.0.0.1", "DAGSTER_CODE_SERVER_PORT": str(grpc_port)}
    workspace = str(REPO_ROOT / "deploy" / "workspace.grpc.yaml")
    group = Processes(log_dir)
    try:
        group.start("code_server", [_bin("dagster"), "code-server", "start", "-m", "autoindex_pipeline.definitions",
                                    "-h", "127.0.0.1", "-p", str(grpc_port), "--location-name", LOCATION_NAME], env)

        def code_server_healthy() -> bool:
            group.check_alive()
            return subprocess.run([_bin("dagster"), "api", "grpc-health-check", "-p", str(grpc_port), "-h", "127.0.0.1"],
                                  env=env, capture_output=True, timeout=30).returncode == 0

        wait_for(code_server_healthy, startup_timeout, 1.0, "the code server", group.tails)
        group.start("webserver", [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", workspace], env)
        group.start("daemon", [_bin("dagster-daemon"), "run", "-w", workspace], env)

        def webserver_ready() -> bool:
            import httpx

            group.check_alive()
            return httpx.get(f"http://127.0.0.1:{web_port}/server_info", timeout=5).status_code == 200

        wait_for(webserver_ready, startup_timeout, 0.5, "the webserver", group.tails)
        yield Topology(env, group, web_port)
    finally:
        group.stop()


def start_celery_worker(topo: Topology, env: dict[str, str], name: str) -> None:
    """`celery -A dagster_celery.app worker -Q dagster` (the compose file's worker), solo pool."""
    worker_env = {**env, "CELERY_BROKER_URL": env["AUTOINDEX_CELERY_BROKER"],
                  "CELERY_RESULT_BACKEND": env["AUTOINDEX_CELERY_BACKEND"]}
    log_path = topo.group.start(name, [_bin("celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster",
                                       "--pool", "solo", "--prefetch-multiplier", "1", "-n", f"{name}@%h",
                                       "--loglevel", "INFO", "--without-gossip", "--without-mingle"], worker_env)
    wait_for(lambda: topo.group.check_alive() or "ready." in log_path.read_text(errors="replace"),
             90, 0.5, f"celery worker {name}", topo.group.tails)


LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { id status numPartitions runs(limit: 50) { runId status } error { message } }
    ... on PythonError { message }
  }
}
"""
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def launch_asset_backfill(topo: Topology, assets: list[str], partitions: list[str], title: str) -> str:
    data = topo.graphql(LAUNCH_BACKFILL, {"params": {
        "assetSelection": [{"path": [a]} for a in assets], "partitionNames": partitions, "fromFailure": False,
        "title": title,
    }})["launchPartitionBackfill"]
    if data["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"backfill not launched: {data}")
    return data["backfillId"]


def wait_for_backfill(topo: Topology, backfill_id: str, timeout: float) -> dict:
    def done() -> dict | None:
        topo.group.check_alive()
        backfill = topo.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return backfill if backfill.get("status") in TERMINAL_BACKFILL else None

    return wait_for(done, timeout, 1.0, f"backfill {backfill_id}", topo.group.tails)

"""End-to-end tests of the deployment: the compose file (parsed), the production topology (code
server, webserver and daemon as real processes on the production dagster.yaml and PostgreSQL),
the UI in a headless browser, and the Celery executor with a real worker.

The helpers here start and stop that topology (the benchmarks keep their own copy,
`benchmarks/_deployment.py`, so they import no test code).
"""

from __future__ import annotations

import contextlib
import json
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
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATION_NAME = "autoindex_pipeline"
REPOSITORY_NAME = "__repository__"
PG_ADMIN_URL = os.environ.get("AUTOINDEX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

# Fake secrets given to every process: a test greps the event log, the run records and the
# compute logs for them. The PostgreSQL passwords are accepted (and ignored) by trust auth.
FAKE_SECRETS = {
    "TWELVEDATA_API_KEY": "td-secret-7f3a9c1e5b2d",
    "MARKETAUX_API_TOKEN": "mx-secret-4e8b2a6d9c1f",
    "DAGSTER_PG_PASSWORD": "pg-secret-2c7e9a4f1b3d",
    "WAREHOUSE_PASSWORD": "wh-secret-9d1b3f5a7c2e",
}

def json_logs_block(level: str = "INFO") -> dict:
    """The JSON logs option of autoindex_pipeline/logging.py, as a deployment adds it to
    dagster.yaml (README: Production deployment)."""
    from autoindex_pipeline.jsonlog import DAGSTER_HANDLER_CONFIG

    handler_config = json.loads(json.dumps(DAGSTER_HANDLER_CONFIG))
    handler_config["handlers"]["json"]["level"] = level
    return {"python_logs": {"dagster_handler_config": handler_config}}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
        except Exception as exc:  # a server still starting refuses connections
            last_exc = exc
        time.sleep(interval)
    detail = on_timeout() if on_timeout else ""
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_exc!r})\n{detail}")


# --- PostgreSQL databases ---------------------------------------------------------------------


def _admin_engine() -> sa.Engine:
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def fresh_databases(*roles: str, prefix: str = "autoindex_e2e") -> Iterator[dict[str, str]]:
    """Fresh databases (one per role) on the test server, dropped afterwards; yields names."""
    admin = _admin_engine()
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"{prefix}_{role}_{suffix}" for role in roles}
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


def pg_url(database: str, driver: str = "postgresql+psycopg", password: str | None = None) -> str:
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername=driver, database=database)
    if password is not None:
        url = url.set(password=password)
    return url.render_as_string(hide_password=False)


# --- the instance and the environment of every process ----------------------------------------


def write_dagster_home(home: Path, json_logs: bool = False, json_log_level: str = "INFO") -> Path:
    """``home`` holding the shipped production dagster.yaml (optionally with the JSON logs block
    added, exactly as README says a deployment adds it)."""
    home.mkdir(parents=True, exist_ok=True)
    text = (REPO_ROOT / "dagster.yaml").read_text()
    if json_logs:
        text += "\n# JSON logs (README: Production deployment)\n" + yaml.safe_dump(json_logs_block(json_log_level), sort_keys=False)
    (home / "dagster.yaml").write_text(text)
    return home


def deployment_env(home: Path, dagster_db: str, warehouse_db: str, config_path: Path,
                   extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """What .env.example lists, filled in for this machine: the production dagster.yaml's
    DAGSTER_PG_* on ``dagster_db``, the warehouse on ``warehouse_db`` (with a password-like
    token trust auth ignores), fake provider secrets."""
    admin = sa.engine.make_url(PG_ADMIN_URL)
    env = dict(os.environ)
    env.update({
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_USERNAME": admin.username or "postgres",
        "DAGSTER_PG_PASSWORD": FAKE_SECRETS["DAGSTER_PG_PASSWORD"],
        "DAGSTER_PG_HOST": admin.host or "127.0.0.1",
        "DAGSTER_PG_PORT": str(admin.port or 5432),
        "DAGSTER_PG_DB": dagster_db,
        "DAGSTER_COMPUTE_LOG_DIR": str(home / "compute_logs"),
        "AUTOINDEX_DATABASE_URL": pg_url(warehouse_db, password=FAKE_SECRETS["WAREHOUSE_PASSWORD"]),
        "AUTOINDEX_CONFIG": str(config_path),
        "TWELVEDATA_API_KEY": FAKE_SECRETS["TWELVEDATA_API_KEY"],
        "MARKETAUX_API_TOKEN": FAKE_SECRETS["MARKETAUX_API_TOKEN"],
        "AUTOINDEX_PROGRESS": "0",
        "TQDM_DISABLE": "1",
        "DAGSTER_DISABLE_TELEMETRY": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


@contextlib.contextmanager
def instance_from(env: Mapping[str, str]):
    """The DagsterInstance the processes share, opened in this process with their dagster.yaml.
    Its DAGSTER_* variables stay set while it is open (the instance resolves parts of its config
    lazily), then this process's environment is restored."""
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


# --- processes --------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return f"--- {self.name} ({self.log_path}) ---\n" + "\n".join(text[-lines:])


@dataclass
class ProcessGroup:
    """Processes started in their own session, each logging to a file; `stop` terminates each
    (SIGTERM to its process group, then SIGKILL after a grace period)."""

    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def start(self, name: str, args: list[str], env: Mapping[str, str], cwd: Path | None = None) -> Process:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "ab")  # closed with the process
        popen = subprocess.Popen(args, env=dict(env), cwd=str(cwd or REPO_ROOT), stdout=log,
                                 stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def check_alive(self) -> None:
        for process in self.processes:
            if process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}\n{process.tail()}")

    def tails(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def stop(self, grace: float = 15.0) -> None:
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait(timeout=10)
        self.processes.clear()


def dagster_bin(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else (shutil.which(name) or name)


@dataclass
class Topology:
    """The production topology on this machine: code server, webserver, daemon."""

    env: dict[str, str]
    group: ProcessGroup
    grpc_port: int
    web_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None, timeout: float = 60) -> dict:
        import httpx

        # verify=False: a plain-http loopback URL, and httpx's default loads the CA bundle into a
        # new TLS context on every call (32 ms of CPU each, measured) while the tests poll once a second.
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": dict(variables or {})},
                              timeout=timeout, verify=False)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise AssertionError(f"GraphQL errors: {body['errors']}")
        return body["data"]


@contextlib.contextmanager
def topology(env: dict[str, str], log_dir: Path, daemon: bool = True, startup_timeout: float = 120) -> Iterator[Topology]:
    """Start `dagster code-server start`, `dagster-webserver -w deploy/workspace.grpc.yaml` and
    `dagster-daemon run -w deploy/workspace.grpc.yaml` (the compose file's commands) on free
    ports; stop all three however the block ends."""
    grpc_port, web_port = free_port(), free_port()
    env = {**env, "DAGSTER_CODE_SERVER_HOST": "127.0.0.1", "DAGSTER_CODE_SERVER_PORT": str(grpc_port)}
    workspace = str(REPO_ROOT / "deploy" / "workspace.grpc.yaml")
    group = ProcessGroup(log_dir)
    try:
        group.start("code_server", [dagster_bin("dagster"), "code-server", "start", "-m", "autoindex_pipeline.definitions",
                                    "-h", "127.0.0.1", "-p", str(grpc_port), "--location-name", LOCATION_NAME], env)

        def code_server_healthy() -> bool:
            group.check_alive()
            check = subprocess.run([dagster_bin("dagster"), "api", "grpc-health-check", "-p", str(grpc_port),
                                    "-h", "127.0.0.1"], env=env, capture_output=True, timeout=30)
            return check.returncode == 0

        wait_for(code_server_healthy, startup_timeout, 1.0, "the code server's gRPC health check", group.tails)
        group.start("webserver", [dagster_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port),
                                  "-w", workspace], env)
        if daemon:
            group.start("daemon", [dagster_bin("dagster-daemon"), "run", "-w", workspace], env)
        topo = Topology(env, group, grpc_port, web_port)

        def webserver_ready() -> bool:
            import httpx

            group.check_alive()
            return httpx.get(f"{topo.url}/server_info", timeout=5, verify=False).status_code == 200

        wait_for(webserver_ready, startup_timeout, 0.5, "the webserver", group.tails)
        yield topo
    finally:
        group.stop()


# --- GraphQL documents ------------------------------------------------------------------------

LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidStepError { invalidStepKey }
    ... on InvalidOutputError { invalidOutputName }
    ... on RunConflict { message }
    ... on PresetNotFoundError { message }
    ... on ConflictingExecutionParamsError { message }
    ... on NoModeProvidedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""

BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      id status numPartitions
      runs(limit: 50) { runId status }
      error { message }
    }
    ... on PythonError { message }
  }
}
"""

REPOSITORY_LOCATION_STATUS = """
query { workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def launch_asset_backfill(topo: Topology, assets: list[str], partitions: list[str], title: str) -> str:
    data = topo.graphql(LAUNCH_BACKFILL, {"params": {
        "assetSelection": [{"path": [a]} for a in assets],
        "partitionNames": partitions,
        "fromFailure": False,
        "title": title,
    }})["launchPartitionBackfill"]
    if data["__typename"] != "LaunchBackfillSuccess":
        raise AssertionError(f"backfill not launched: {data}")
    return data["backfillId"]


TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def wait_for_backfill(topo: Topology, backfill_id: str, timeout: float) -> dict:
    def done() -> dict | None:
        topo.group.check_alive()
        backfill = topo.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
        return backfill if backfill.get("status") in TERMINAL_BACKFILL else None

    return wait_for(done, timeout, 1.0, f"backfill {backfill_id}", topo.group.tails)

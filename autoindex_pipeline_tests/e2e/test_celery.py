"""Scale-out with the dagster-celery executor: a real Celery worker process on the RabbitMQ broker
at 127.0.0.1:5672 (Redis as result backend) runs the steps of a multi-asset run (`assets`,
`prices`, `market_cap_data` over a week of sessions) launched through the production topology
(code server with AUTOINDEX_EXECUTOR=celery, daemon, PostgreSQL-backed Dagster storage that the
run worker and the Celery worker share)."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.e2e import (
    LOCATION_NAME,
    REPOSITORY_NAME,
    dagster_bin,
    deployment_env,
    fresh_databases,
    instance_from,
    topology,
    wait_for,
    write_dagster_home,
)

pytestmark = [pytest.mark.postgres, pytest.mark.heavy(45)]  # topology, worker and the run

BROKER = os.environ.get("AUTOINDEX_TEST_CELERY_BROKER", "pyamqp://guest:guest@127.0.0.1:5672//")
BACKEND = os.environ.get("AUTOINDEX_TEST_CELERY_BACKEND", "redis://127.0.0.1:6379/0")
SYMBOLS = ["AAPL", "MSFT", "XOM", "GLD"]
START, END = "2025-06-02", "2025-06-06"
STEPS = {"assets", "corporate_actions", "prices", "market_cap_data"}


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=3):
            return True
    except OSError:
        return False


def start_celery_worker(topo, env: dict[str, str], name: str):
    """`celery -A dagster_celery.app worker -Q dagster` (docker-compose.yml's celery-worker) with
    the solo pool, so each step runs in the worker's own process (its pid is the Popen's)."""
    worker_env = {**env, "CELERY_BROKER_URL": env["AUTOINDEX_CELERY_BROKER"],
                  "CELERY_RESULT_BACKEND": env["AUTOINDEX_CELERY_BACKEND"]}
    process = topo.group.start(name, [dagster_bin("celery"), "-A", "dagster_celery.app", "worker", "-Q", "dagster",
                                      "--pool", "solo", "--prefetch-multiplier", "1", "-n", f"{name}@%h",
                                      "--loglevel", "INFO", "--without-gossip", "--without-mingle"], worker_env)
    wait_for(lambda: topo.group.check_alive() or "ready." in process.log_path.read_text(errors="replace"),
             90, 0.5, f"celery worker {name}", topo.group.tails)
    return process


def celery_env(home, dagster_db: str, warehouse_db: str, config_path) -> dict[str, str]:
    return deployment_env(home, dagster_db, warehouse_db, config_path, extra={
        "AUTOINDEX_EXECUTOR": "celery", "AUTOINDEX_CELERY_BROKER": BROKER, "AUTOINDEX_CELERY_BACKEND": BACKEND})


@pytest.fixture(scope="module")
def celery_run(tmp_path_factory):
    pytest.importorskip("dagster_celery", reason="the `celery` extra (dagster-celery) is not installed")
    for url in (BROKER, BACKEND):
        if not _reachable(url):
            pytest.fail(f"{url} is not reachable; start RabbitMQ/Redis or set AUTOINDEX_TEST_CELERY_BROKER/_BACKEND")
    from dagster_graphql import DagsterGraphQLClient

    tmp = tmp_path_factory.mktemp("celery")
    config_path = write_config(tmp, universe={"symbols": SYMBOLS})
    with fresh_databases("dagster", "warehouse", prefix="autoindex_celery") as dbs:
        home = write_dagster_home(tmp / "dagster_home", json_logs=True)  # JSON logs from the worker too
        env = celery_env(home, dbs["dagster"], dbs["warehouse"], config_path)
        with topology(env, tmp / "logs") as topo:
            worker_name = f"autoindex-e2e-{uuid.uuid4().hex[:8]}"
            worker = start_celery_worker(topo, env, worker_name)
            client = DagsterGraphQLClient("127.0.0.1", port_number=topo.web_port)
            started = time.monotonic()
            run_id = client.submit_job_execution(
                "prices_job", repository_location_name=LOCATION_NAME, repository_name=REPOSITORY_NAME,
                tags={"dagster/asset_partition_range_start": START, "dagster/asset_partition_range_end": END})

            def finished() -> str | None:
                topo.group.check_alive()
                status = client.get_run_status(run_id).value
                return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

            status = wait_for(finished, 180, 1.0, f"run {run_id}", topo.group.tails)
            with instance_from(env) as instance:
                yield SimpleNamespace(status=status, run_id=run_id, worker=worker, worker_name=worker_name,
                                      instance=instance, env=env, seconds=time.monotonic() - started, topo=topo)


def test_the_celery_executed_run_succeeds_and_writes_the_warehouse(celery_run):
    assert celery_run.status == "SUCCESS", celery_run.topo.group.tails()
    engine = sa.create_engine(celery_run.env["AUTOINDEX_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            prices = conn.execute(sa.text("SELECT count(*), count(DISTINCT symbol), min(date)::text, max(date)::text "
                                          "FROM prices")).one()
            assets = conn.execute(sa.text("SELECT count(*) FROM assets WHERE in_universe")).scalar()
            shares = conn.execute(sa.text("SELECT count(DISTINCT symbol) FROM market_cap_data")).scalar()
    finally:
        engine.dispose()
    assert prices == (5 * (len(SYMBOLS) + 1), len(SYMBOLS) + 1, START, END)
    assert assets == len(SYMBOLS) + 1
    assert shares >= len(SYMBOLS)


def test_every_step_ran_in_the_celery_worker_process(celery_run):
    logs = celery_run.instance.all_logs(celery_run.run_id)
    events = [r.dagster_event for r in logs if r.dagster_event]
    step_starts = {e.step_key: e.pid for e in events if e.event_type_value == "STEP_START"}
    assert set(step_starts) == STEPS
    # The solo pool runs each task in the worker's own process: the Popen's pid.
    assert set(step_starts.values()) == {celery_run.worker.popen.pid}
    orchestrator = {e.pid for e in events if e.event_type_value == "ENGINE_EVENT" and e.pid}
    assert celery_run.worker.popen.pid not in orchestrator  # the run worker only submitted tasks
    # dagster-celery's own record of which worker took each step.
    executed = {}
    for record in logs:
        event = record.dagster_event
        if event and event.event_type_value == "ENGINE_EVENT" and "in celery worker" in record.message:
            executed[event.step_key] = event.engine_event_data.metadata["Celery worker"].value
    assert set(executed) == STEPS
    assert {host.split("@")[0] for host in executed.values()} == {celery_run.worker_name}
    submitted = [r.message for r in logs if "Submitting celery task" in (r.message or "")]
    assert len(submitted) == len(STEPS) and all('to queue "dagster"' in m for m in submitted)
    # The worker's own log shows the tasks it received and finished.
    worker_log = celery_run.worker.log_path.read_text(errors="replace")
    assert worker_log.count("execute_plan") >= len(STEPS) and "succeeded" in worker_log
    # The JSON logs option works in the worker: whole JSON lines, with run, step and range.
    records = [json.loads(line) for line in worker_log.splitlines() if line.startswith("{")]
    wrote = [r for r in records if r["run_id"] == celery_run.run_id and r["message"].startswith("wrote ")]
    assert wrote and wrote[0]["step_key"] == "prices" and wrote[0]["partition_range_start"] == START

"""Production-topology benchmark: the N-year prices backfill (whole universe, sample provider) run

  1. in process (`autoindex run`'s path: `execute_in_process` on the production instance),
  2. on the production topology: code server + webserver + daemon processes on the shipped
     dagster.yaml; (a) one run submitted with the dagster-graphql client, (b) a backfill launched
     through GraphQL (`launchPartitionBackfill`); both queued and launched by the daemon
     (QueuedRunCoordinator), one run each (BackfillPolicy.single_run),
  3. as the multi-asset `prices_job` (assets, prices, market_cap_data) with the dagster-celery
     executor on 1 and on 2 Celery workers (solo pool, one task at a time each).

Each case on fresh PostgreSQL databases (Dagster storage and warehouse). Prints wall times and
the ratios; the daemon-side figures separate queueing/launch overhead from the run itself.

    python benchmarks/topology.py                 # 5 years, every case
    python benchmarks/topology.py --years 1 --skip-celery

Needs PostgreSQL ($AUTOINDEX_TEST_PG_URL, default 127.0.0.1:5432), and for the Celery cases
RabbitMQ at 127.0.0.1:5672 and Redis at 127.0.0.1:6379 ($AUTOINDEX_TEST_CELERY_BROKER/_BACKEND).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("AUTOINDEX_PROGRESS", "0")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")


_WORK_DIRS: list[Path] = []


def _work() -> Path:
    """A temporary folder for one case (config, DAGSTER_HOME, process logs); removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="autoindex-topology-bench-"))
    _WORK_DIRS.append(path)
    return path


def _config(work: Path) -> Path:
    import yaml

    from autoindex_pipeline.config import DEFAULT_CONFIG_PATH

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["universe"]["file"] = str(DEFAULT_CONFIG_PATH.parent / "universe.csv")
    raw["storage"]["data_dir"] = str(work / "data")
    path = work / "autoindex.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _sessions(years: float):
    import pandas as pd

    from autoindex_pipeline.domain.calendar import last_closed_session, sessions_between

    end = last_closed_session()
    return sessions_between((end - pd.DateOffset(days=round(365.25 * years))).date(), end)[:-1]


def _prepare_warehouse(env: dict[str, str], config_path: Path, sessions) -> None:
    """The documented sample bad prints would fail the blocking checks (as they should): record
    the audited overrides the demo records, as benchmarks/ingest.py does."""
    from autoindex_pipeline.cli.demo import override_documented_sample_faults
    from autoindex_pipeline.config import load_config
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    os.environ["AUTOINDEX_DATABASE_URL"] = env["AUTOINDEX_DATABASE_URL"]
    create_warehouse_engine.cache_clear()
    override_documented_sample_faults(load_config(config_path), sessions[0], sessions[-1])


def _rows(env: dict[str, str]) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(env["AUTOINDEX_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM prices")).scalar()
    finally:
        engine.dispose()


def _run_times(instance, run_id: str) -> dict[str, float]:
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp.timestamp()
    return {"queued_to_start_s": record.start_time - created, "run_s": record.end_time - record.start_time}


def _step_times(instance, run_id: str) -> dict[str, float]:
    starts, ends = {}, {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ends[event.step_key] = entry.timestamp
    return {f"step_{k}_s": ends[k] - starts[k] for k in starts if k in ends}


def in_process(years: float) -> dict[str, float]:
    from autoindex_pipeline.cli.runner import run_prices_job
    from autoindex_pipeline.config import load_config
    from benchmarks._deployment import deployment_env, fresh_databases, instance_from, write_dagster_home

    work = _work()
    config_path = _config(work)
    sessions = _sessions(years)
    with fresh_databases("dagster", "warehouse", prefix="autoindex_bench_topo") as dbs:
        env = deployment_env(write_dagster_home(work / "home"), dbs["dagster"], dbs["warehouse"], config_path)
        _prepare_warehouse(env, config_path, sessions)
        with instance_from(env) as instance:
            config = load_config(config_path)
            started = time.perf_counter()
            result = run_prices_job(config, str(config_path), sessions[0], sessions[-1], select=["prices"],
                                    instance=instance)
            seconds = time.perf_counter() - started
            assert result.success, "in-process backfill failed"
            run = _run_times(instance, result.run_id)
        return {"sessions": len(sessions), "symbols": len(config.symbols), "rows": _rows(env), "wall_s": seconds,
                "before_run_start_s": seconds - run["run_s"], "run_s": run["run_s"]}


def topology_run(years: float, mode: str) -> dict[str, float]:
    """mode `run`: one queued run of `prices` over the range, submitted with the dagster-graphql
    client; mode `backfill`: a partition backfill of every session through `launchPartitionBackfill`
    (the backfill daemon, which iterates every 30 s, turns it into that same single run)."""
    from dagster_graphql import DagsterGraphQLClient

    from benchmarks._deployment import (
        LOCATION_NAME,
        REPOSITORY_NAME,
        deployment_env,
        fresh_databases,
        instance_from,
        launch_asset_backfill,
        topology,
        wait_for,
        wait_for_backfill,
        write_dagster_home,
    )

    work = _work()
    config_path = _config(work)
    sessions = _sessions(years)
    names = [s.strftime("%Y-%m-%d") for s in sessions]
    with fresh_databases("dagster", "warehouse", prefix="autoindex_bench_topo") as dbs:
        env = deployment_env(write_dagster_home(work / "home"), dbs["dagster"], dbs["warehouse"], config_path)
        _prepare_warehouse(env, config_path, sessions)
        started_up = time.perf_counter()
        with topology(env, work / "logs") as topo:
            startup = time.perf_counter() - started_up
            started = time.perf_counter()
            if mode == "backfill":
                backfill_id = launch_asset_backfill(topo, ["prices"], names, title="benchmark")
                backfill = wait_for_backfill(topo, backfill_id, timeout=1800)
                assert backfill["status"] == "COMPLETED_SUCCESS", backfill
                assert len(backfill["runs"]) == 1, backfill["runs"]
                run_id = backfill["runs"][0]["runId"]
            else:
                client = DagsterGraphQLClient("127.0.0.1", port_number=topo.web_port)
                run_id = client.submit_job_execution(
                    "prices_job", repository_location_name=LOCATION_NAME, repository_name=REPOSITORY_NAME,
                    asset_selection=["prices"],
                    tags={"dagster/asset_partition_range_start": names[0], "dagster/asset_partition_range_end": names[-1]})
                status = wait_for(lambda: (s := client.get_run_status(run_id).value) in ("SUCCESS", "FAILURE") and s,
                                  1800, 1.0, f"run {run_id}", topo.group.tails)
                assert status == "SUCCESS", topo.group.tails()
            seconds = time.perf_counter() - started
            with instance_from(env) as instance:
                run = _run_times(instance, run_id)
        return {"topology_startup_s": startup, "wall_s": seconds, **run, "rows": _rows(env)}


def celery_run(years: float, workers: int) -> dict[str, float]:
    from dagster_graphql import DagsterGraphQLClient

    from benchmarks._deployment import (
        LOCATION_NAME,
        REPOSITORY_NAME,
        celery_env,
        fresh_databases,
        instance_from,
        start_celery_worker,
        topology,
        wait_for,
        write_dagster_home,
    )

    work = _work()
    config_path = _config(work)
    sessions = _sessions(years)
    with fresh_databases("dagster", "warehouse", prefix="autoindex_bench_celery") as dbs:
        env = celery_env(write_dagster_home(work / "home"), dbs["dagster"], dbs["warehouse"], config_path)
        _prepare_warehouse(env, config_path, sessions)
        with topology(env, work / "logs") as topo:
            for i in range(workers):
                start_celery_worker(topo, env, f"autoindex-bench-{i}-{os.getpid()}")
            client = DagsterGraphQLClient("127.0.0.1", port_number=topo.web_port)
            started = time.perf_counter()
            run_id = client.submit_job_execution(
                "prices_job", repository_location_name=LOCATION_NAME, repository_name=REPOSITORY_NAME,
                tags={"dagster/asset_partition_range_start": sessions[0].strftime("%Y-%m-%d"),
                      "dagster/asset_partition_range_end": sessions[-1].strftime("%Y-%m-%d")})

            def finished() -> str | None:
                status = client.get_run_status(run_id).value
                return status if status in ("SUCCESS", "FAILURE", "CANCELED") else None

            status = wait_for(finished, 1800, 1.0, f"celery run {run_id}", topo.group.tails)
            seconds = time.perf_counter() - started
            assert status == "SUCCESS", topo.group.tails()
            with instance_from(env) as instance:
                extra = {**_run_times(instance, run_id), **_step_times(instance, run_id)}
        return {"workers": workers, "wall_s": seconds, **extra, "rows": _rows(env)}


def _print(title: str, figures: dict) -> None:
    print(f"\n== {title} ==", flush=True)
    for key, value in figures.items():
        print(f"  {key:<26}{value:,.2f}" if isinstance(value, float) else f"  {key:<26}{value}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--skip-celery", action="store_true")
    args = parser.parse_args()
    try:
        run_cases(args)
    finally:
        for path in _WORK_DIRS:
            shutil.rmtree(path, ignore_errors=True)


def run_cases(args: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores; {args.years:g} years x the whole universe, sample provider", flush=True)
    base = in_process(args.years)
    _print("in process (execute_in_process, production instance)", base)
    run = topology_run(args.years, "run")
    _print("production topology: one queued run (dagster-graphql client), daemon-launched", run)
    backfill = topology_run(args.years, "backfill")
    _print("production topology: launchPartitionBackfill, backfill daemon, daemon-launched", backfill)
    print(f"\n  queued run / in-process wall time        {run['wall_s'] / base['wall_s']:.2f}x "
          f"(RUN_START..RUN_SUCCESS: {run['run_s'] / base['run_s']:.2f}x)", flush=True)
    print(f"  GraphQL backfill / in-process wall time  {backfill['wall_s'] / base['wall_s']:.2f}x "
          f"(RUN_START..RUN_SUCCESS: {backfill['run_s'] / base['run_s']:.2f}x)", flush=True)
    if args.skip_celery:
        return
    one = celery_run(args.years, 1)
    _print("celery executor, 1 worker (prices_job: assets, prices, market_cap_data)", one)
    two = celery_run(args.years, 2)
    _print("celery executor, 2 workers", two)
    print(f"\n  2 workers vs 1: wall {one['wall_s'] / two['wall_s']:.2f}x faster, "
          f"run {one['run_s'] / two['run_s']:.2f}x", flush=True)


if __name__ == "__main__":
    main()

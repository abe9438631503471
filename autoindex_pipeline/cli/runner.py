"""Running the pipeline's jobs in a real Dagster instance, without the UI.

What every command and the integration tests use: the instance bootstrap (``$DAGSTER_HOME`` or
the embedded default) and one run of a job over a range of partitions, the way a single-run
backfill in the UI does it. No click here: a caller gets the ``ExecuteInProcessResult`` back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
from pathlib import Path

import pandas as pd

from autoindex_pipeline.cli.console import run_console
from autoindex_pipeline.cli.runs import (
    Notify,
    PoolWatch,
    RunTerminated,
    end_terminated_run,
    patch_pool_waiting,
    process_tags,
    reap_dead_runs,
    sigterm_raises,
    stderr_notify,
    was_interrupted,
)
from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.calendar import EXCHANGE_TIMEZONE, last_closed_session, sessions_between

# Dagster's documented run tags for a single run over a partition range.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
EMBEDDED_INSTANCE_YAML = Path(__file__).parent.parent / "data" / "dagster_embedded.yaml"
# The code location as workspace.yaml and deploy/workspace.grpc.yaml name it (a test holds them equal).
CODE_LOCATION_NAME = "autoindex_pipeline"
CODE_LOCATION_MODULE = "autoindex_pipeline.definitions"
INFO_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _first_use_lock(config: AutoIndexConfig):
    """Two commands started at once on a fresh data dir would both create the SQLite tables, of
    Dagster (``table secondary_indexes already exists``) and of the warehouse (``table assets
    already exists``, from both migrations): first use happens under this file lock."""
    from filelock import FileLock

    config.data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(config.data_dir / ".first-use.lock"))


def dagster_instance(config: AutoIndexConfig):
    """$DAGSTER_HOME's instance when set (production), else the embedded default: Dagster's
    SQLite storage under <data_dir>/dagster_home, created on first use (under the first-use
    lock, its storages touched before the lock is let go)."""
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    home = config.data_dir / "dagster_home"
    with _first_use_lock(config):
        home.mkdir(parents=True, exist_ok=True)
        if not (home / "dagster.yaml").exists():
            shutil.copyfile(EMBEDDED_INSTANCE_YAML, home / "dagster.yaml")
        os.environ["DAGSTER_HOME"] = str(home)
        instance = dg.DagsterInstance.get()
        for storage in ("run_storage", "event_log_storage", "schedule_storage"):
            getattr(instance, storage)
    return instance


def warehouse_engine(config: AutoIndexConfig):
    """The configured warehouse, migrated to head (under the first-use lock)."""
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine
    from autoindex_pipeline.warehouse.migrate import upgrade

    engine = create_warehouse_engine(config.database_url())
    with _first_use_lock(config):
        upgrade(engine)
    return engine


def session_bounds(config: AutoIndexConfig, start: dt.date | None, end: dt.date | None) -> pd.DatetimeIndex:
    """The exchange sessions of start..end, clipped to prices.start_date and the last closed session."""
    last = last_closed_session(calendar=config.prices.calendar).date()
    first = max(start or config.prices.start_date, config.prices.start_date)
    return sessions_between(first, min(end or last, last), config.prices.calendar)


def news_day_range(config: AutoIndexConfig, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """Calendar days of the news partitions inside start..end (default: news.start_date ..
    today in New York); None when the range holds none."""
    today = pd.Timestamp.now(tz=EXCHANGE_TIMEZONE).date()
    first = max(start or config.news.start_date, config.news.start_date)
    last = min(end or today, today)
    return (first, last) if first <= last else None


def patch_unpartitioned_planned_events() -> None:
    """One planned event for an unpartitioned asset in a partitioned run, not one per partition.

    Dagster 1.13 plans each asset of a run over the run's partition subset whatever the asset's
    own partitions: ``get_resolved_partitions_subset_for_events`` returns the run's subset
    before it looks at the (absent) partitions definition. So ``assets`` and
    ``market_cap_data`` in a 1,254-session backfill cost 1,254 planned events each, keyed by
    partitions they do not have and never materialize (their materialization carries no
    partition), which the asset status then counts as failed or in progress. The run's planned
    events for partitioned assets are unchanged. Idempotent; applies to runs this process
    creates (the CLI, the tests), not to runs a webserver or daemon creates."""
    from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent
    from dagster._core.instance.runs.run_domain import RunDomain

    original = RunDomain.get_materialization_planned_events_for_asset
    if getattr(original, "autoindex_patched", False):
        return

    def planned_events(self, dagster_run, asset_key, job_name, step, asset_graph):
        if dagster_run.is_partitioned and self._get_partitions_def(
                asset_key, asset_graph, dagster_run.remote_job_origin, dagster_run) is None:
            return [DagsterEvent.build_asset_materialization_planned_event(
                job_name, step.key, AssetMaterializationPlannedData(asset_key, partition=None, partitions_subset=None))]
        return original(self, dagster_run, asset_key, job_name, step, asset_graph)

    planned_events.autoindex_patched = True
    RunDomain.get_materialization_planned_events_for_asset = planned_events


@contextlib.contextmanager
def pooled_postgres_storage(instance):
    """While a run executes in this process, Dagster's PostgreSQL storages reuse their
    connections. They open a new connection per statement (``NullPool``, so a long-lived
    process holds none), and a planned event costs two of them: with one event per partition,
    a 1,254-session backfill opened ~7,500 connections before its first step (py-spy: 42 % of
    the planned events' time). Planned events stay one per partition, so a failed run still
    marks its partitions failed (what ``DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS``
    gives up). The pool is Dagster's own (``optimize_for_webserver``, no statement timeout);
    the storages get their ``NullPool`` engines back after the run, the pool is closed."""
    storages = [s for s in {id(s): s for s in (instance.run_storage, instance.event_log_storage)}.values()
                if type(s).__module__.startswith("dagster_postgres.") and hasattr(s, "_engine")]
    originals = [s._engine for s in storages]
    for storage in storages:
        storage.optimize_for_webserver(statement_timeout=0, pool_recycle=3600, max_overflow=4)
    try:
        yield
    finally:
        for storage, original in zip(storages, originals, strict=True):
            pooled, storage._engine = storage._engine, original
            pooled.dispose()


def _store_planned_events(storage, events) -> None:
    """Asset planned events in one index transaction, written as
    ``PostgresEventLogStorage.store_event_batch`` writes a batch of materializations: one
    multi-row INSERT into ``event_logs`` (ids in the events' order, as one by one), their asset
    event tags, and per asset key the record of its last event (what the last of the one-by-one
    upserts leaves). No NOTIFY, as in Dagster's own batch path: Dagster 1.13 watches runs by
    polling and keeps the NOTIFY of ``store_event`` only for older webservers."""
    from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

    with storage.index_transaction() as conn:
        inserted = conn.execute(storage.prepare_insert_event_batch(events).returning(SqlEventLogStorageTable.c.id))
        ids = [int(row[0]) for row in inserted.fetchall()]
        storage._store_asset_event_tags(conn, events, ids)
        last = {event.dagster_event.asset_key: (event, event_id) for event, event_id in zip(events, ids, strict=True)}
        for event, event_id in last.values():
            storage._store_asset_event(conn, event, event_id)


@contextlib.contextmanager
def batched_planned_events(instance):
    """While a run is created in this process, its asset planned events go to Dagster's
    PostgreSQL event log in batches. Dagster hands a run's planned events to the storage as
    batches (``DAGSTER_EVENT_BATCH_SIZE``), but ``PostgresEventLogStorage.store_event_batch``
    writes only materializations and observations at once and stores any other batch one event
    at a time: an insert, a NOTIFY and an index transaction per partition, ~1,260 of each for a
    5 y backfill (8-16 s of the 5 y x 513 whole graph, alternating runs on a quiet machine).
    Consecutive asset planned events are written by :func:`_store_planned_events`, one
    transaction each stretch; anything else (asset check planned events) one by one, in order.
    Planned events stay one per partition, so a failed run still marks its partitions failed.
    When a write fails before anything of the batch is stored, Dagster stores the batch one by
    one, as it would have; after part of it is stored, the rest is stored one by one here, so
    no event is written twice. Other storages are left alone."""
    from dagster import DagsterEventType

    storage = instance.event_log_storage
    if not type(storage).__module__.startswith("dagster_postgres."):
        yield
        return
    original = storage.store_event_batch
    planned = DagsterEventType.ASSET_MATERIALIZATION_PLANNED

    def is_planned(event) -> bool:
        return event.is_dagster_event and event.get_dagster_event().event_type == planned

    def store_event_batch(events) -> None:
        if not any(is_planned(e) for e in events):
            return original(events)
        stored = 0
        try:
            while stored < len(events):
                end = stored
                while end < len(events) and is_planned(events[end]):
                    end += 1
                if end > stored:
                    _store_planned_events(storage, events[stored:end])
                    stored = end
                else:
                    storage.store_event(events[stored])
                    stored += 1
        except Exception:
            if stored == 0:
                raise
            for event in events[stored:]:
                storage.store_event(event)

    storage.store_event_batch = store_event_batch
    try:
        yield
    finally:
        del storage.store_event_batch


def code_location_origins(job_name: str):
    """(remote job origin, job code origin) of ``job_name`` as the workspace's code location
    serves it: the module workspace.yaml loads, under its location name, in the one repository a
    ``Definitions`` object makes."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.definitions.repository_definition import SINGLETON_REPOSITORY_NAME
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=CODE_LOCATION_MODULE)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(target, location_name=CODE_LOCATION_NAME)
    remote = RemoteJobOrigin(RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME), job_name)
    code = ReconstructableRepository.for_module(CODE_LOCATION_MODULE, "defs").get_reconstructable_job(job_name)
    return remote, code.get_python_origin()


@contextlib.contextmanager
def runs_from_code_location(instance, run_id: str):
    """The run ``run_id`` that ``execute_in_process`` creates carries the code location's origins.

    The UI's Overview timeline draws a run only under the location and repository of its remote
    job origin (``repositoryOrigin`` in its GraphQL query; a run without one is skipped), and the
    Runs page filters a job's runs by the same origin's label. ``execute_in_process`` creates its
    run without origins, so the CLI's runs were in the Runs list only. Execution stays in process
    (``execute_run`` would hand the steps to the deployment's executor and return no
    ``ExecuteInProcessResult``); only the creation of this one run gets the two origins."""
    create_run_for_job = instance.create_run_for_job

    def with_origins(job_def, **kwargs):
        if kwargs.get("run_id") == run_id and kwargs.get("remote_job_origin") is None:
            kwargs["remote_job_origin"], kwargs["job_code_origin"] = code_location_origins(job_def.name)
        return create_run_for_job(job_def, **kwargs)

    instance.create_run_for_job = with_origins
    try:
        yield
    finally:
        del instance.create_run_for_job


def run_job(
    config: AutoIndexConfig,
    config_path: str | None,
    job_name: str,
    *,
    partition_range: tuple[str, str] | None = None,
    run_config: dict | None = None,
    select: list[str] | None = None,
    instance=None,
    notify: Notify = stderr_notify,
):
    """One in-process run of ``job_name`` from the Definitions of ``config_path``; a
    ``partition_range`` (first, last key) makes it one run over the range (a single-run backfill).

    Before it starts, runs this host left behind (process gone) are failed and their pool slots
    freed; while it waits for a pool slot, ``notify`` says so; SIGTERM cancels it and raises
    :class:`~autoindex_pipeline.cli.runs.RunTerminated` (see ``cli/runs.py``)."""
    import dagster as dg
    from dagster._core.utils import make_new_run_id

    from autoindex_pipeline.definitions import build_definitions

    job = build_definitions(config_path).resolve_job_def(job_name)
    tags = process_tags()
    if partition_range is not None:
        tags |= {PARTITION_RANGE_START_TAG: partition_range[0], PARTITION_RANGE_END_TAG: partition_range[1]}
    instance = instance or dagster_instance(config)
    warehouse_engine(config)
    patch_pool_waiting()
    patch_unpartitioned_planned_events()
    reap_dead_runs(instance, notify)
    run_id = make_new_run_id()
    try:
        with sigterm_raises(), run_console(job_name, notify), pooled_postgres_storage(instance), \
                batched_planned_events(instance), runs_from_code_location(instance, run_id), \
                PoolWatch(instance, run_id, notify):
            result = job.execute_in_process(
                run_config={**INFO_LOGS, **(run_config or {})},
                instance=instance,
                tags=tags,
                asset_selection=[dg.AssetKey(key) for key in select] if select else None,
                raise_on_error=False,
                run_id=run_id,
            )
        if not result.success and was_interrupted(instance, result):
            raise RunTerminated()
        return result
    except (RunTerminated, KeyboardInterrupt) as exc:
        status = end_terminated_run(instance, run_id)
        terminated = exc if isinstance(exc, RunTerminated) else RunTerminated()
        terminated.run_id, terminated.status = run_id, status
        raise terminated from None


def run_prices_job(
    config: AutoIndexConfig,
    config_path: str | None,
    start: pd.Timestamp,
    end: pd.Timestamp,
    symbols: list[str] | None = None,
    select: list[str] | None = None,
    instance=None,
    job_name: str | None = None,
):
    """One run of the prices job (or another session-partitioned job) over sessions start..end:
    a single-run backfill. ``symbols``: a targeted refresh of only those."""
    from autoindex_pipeline.defs.prices.definitions import PRICES_JOB

    return run_job(
        config, config_path, job_name or PRICES_JOB,
        partition_range=(start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")),
        run_config={"ops": {"prices": {"config": {"symbols": symbols}}}} if symbols else None,
        select=select, instance=instance,
    )


def run_pipeline_job(config: AutoIndexConfig, config_path: str | None, start: pd.Timestamp, end: pd.Timestamp,
                     symbols: list[str] | None = None, instance=None):
    """Prices start..end, their checks, the quality gate, the index and the reports in one run:
    a failed blocking check stops the rest of the run."""
    from autoindex_pipeline.defs.pipeline import PIPELINE_JOB

    return run_prices_job(config, config_path, start, end, symbols=symbols, instance=instance, job_name=PIPELINE_JOB)


def run_index_job(config: AutoIndexConfig, config_path: str | None, instance=None, select: list[str] | None = None,
                  as_of: str | None = None):
    """One run of the index job: strategy configs, then allocations, index values, metrics (and
    the quality report before them, the performance reports after); ``select``: only those assets;
    ``as_of``: an ISO timestamp, recompute from the data as known then (index_assets' run config)."""
    from autoindex_pipeline.defs.strategy.definitions import INDEX_JOB

    run_config = {"ops": {"index_assets": {"config": {"as_of": as_of}}}} if as_of is not None else None
    return run_job(config, config_path, INDEX_JOB, instance=instance, select=select, run_config=run_config)


def run_news_job(config: AutoIndexConfig, config_path: str | None, start: dt.date, end: dt.date,
                 instance=None):
    """One run of the news job over the calendar days start..end (a single-run backfill)."""
    from autoindex_pipeline.defs.news.definitions import NEWS_JOB

    return run_job(config, config_path, NEWS_JOB, partition_range=(start.isoformat(), end.isoformat()), instance=instance)


def run_news_retention_job(config: AutoIndexConfig, config_path: str | None, as_of: dt.date | None = None,
                           instance=None):
    """One run of the retention job: articles older than news.retention_days move to the archive."""
    from autoindex_pipeline.defs.news.definitions import NEWS_RETENTION_JOB

    run_config = {"ops": {"news_archive": {"config": {"as_of": as_of.isoformat()}}}} if as_of is not None else None
    return run_job(config, config_path, NEWS_RETENTION_JOB, run_config=run_config, instance=instance)

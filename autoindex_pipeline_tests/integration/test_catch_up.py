"""The catch-up schedule on a real warehouse and Dagster instance: after a 3-session outage and
one symbol missing 3 sessions, its tick requests exactly those holes, the requested runs fill
them, and the next tick requests nothing; a delisted symbol after its delisting is not a hole."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.domain.calendar import sessions_between
from autoindex_pipeline.services.refresh import plan_catch_up
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.gate import record_absence
from autoindex_pipeline_tests.conftest import write_config

NY = ZoneInfo("America/New_York")
# Clear of the sample provider's recurring faults; WBA's last row is on 2026-03-02 (its delisting).
START, END = "2026-02-23", "2026-03-13"
NOW = dt.datetime(2026, 3, 13, 21, 0, tzinfo=NY)  # the evening tick after the last session
OUTAGE = ("2026-03-09", "2026-03-11")
AAPL_HOLE = ("2026-02-24", "2026-02-26")


@pytest.fixture
def loaded(stack, tmp_path):
    _, _, instance = stack
    path = write_config(tmp_path, prices={"start_date": START})
    config = load_config(path)
    result = run_prices_job(config, str(path), pd.Timestamp(START), pd.Timestamp(END), instance=instance)
    assert result.success
    defs = build_definitions(str(path))
    return config, defs, instance, create_warehouse_engine(config.database_url())


def _tick(defs, instance, when=NOW):
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                   repository_def=defs.get_repository_def(), resources=dict(defs.resources)) as context:
        result = defs.resolve_schedule_def("catch_up").evaluate_tick(context)
    return list(result.run_requests or []), result.skip_message


def _delete(engine, first, last, symbol=None):
    table = schema.prices
    where = [table.c.date.between(pd.Timestamp(first).date(), pd.Timestamp(last).date())]
    if symbol is not None:
        where.append(table.c.symbol == symbol)
    with engine.begin() as conn:
        conn.execute(table.delete().where(*where))


def _stored(engine) -> set[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.prices.c.symbol, schema.prices.c.date)).all()
    return {(s, pd.Timestamp(d).strftime("%Y-%m-%d")) for s, d in rows}


def test_catch_up_fills_an_outage_and_a_symbol_hole_and_then_requests_nothing(loaded):
    config, defs, instance, engine = loaded
    after_delisting = sessions_between("2026-03-03", END)

    # Without a recorded delisting, WBA's missing rows look like a hole.
    plan = plan_catch_up(config, engine, pd.Timestamp(NOW))
    assert [(r.start, r.end, r.symbols) for r in plan.requests] == [(after_delisting[0], after_delisting[-1], ("WBA",))]
    record_absence(engine, "WBA", dt.date(2026, 3, 3), None, "delisted", "WBA delisted after 2026-03-02", "test")
    requests, skip = _tick(defs, instance)
    assert requests == [] and "holds every session" in skip

    full = _stored(engine)
    _delete(engine, *OUTAGE)
    _delete(engine, *AAPL_HOLE, symbol="AAPL")
    requests, _ = _tick(defs, instance)
    live = tuple(s for s in config.symbols if s != "WBA")
    assert [(r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"],
             r.run_config.get("ops", {}).get("prices", {}).get("config", {}).get("symbols")) for r in requests] == [
        (*AAPL_HOLE, ["AAPL"]),
        (*OUTAGE, list(live)),
    ]
    assert all(r.asset_selection == [dg.AssetKey("prices")] for r in requests)
    # The same work gets the same run key on every tick, so it is requested once.
    assert [r.run_key for r in _tick(defs, instance)[0]] == [r.run_key for r in requests]

    job = defs.resolve_job_def("prices_job")
    for request in requests:
        result = job.execute_in_process(run_config=request.run_config, tags=request.tags, instance=instance,
                                        asset_selection=request.asset_selection, raise_on_error=False)
        assert result.success
    assert _stored(engine) == full  # exactly the holes were filled, nothing after WBA's delisting
    again, skip = _tick(defs, instance)
    assert again == [] and "holds every session" in skip
    assert plan_catch_up(config, engine, pd.Timestamp(NOW)).complete


def test_catch_up_waits_while_a_prices_run_is_in_flight(loaded):
    _, defs, instance, engine = loaded
    _delete(engine, *OUTAGE)
    job = defs.resolve_job_def("prices_job")
    run = instance.create_run_for_job(job, run_config={}, tags={"dagster/partition": OUTAGE[0]})
    instance.handle_run_event(run.run_id, dg.DagsterEvent(dg.DagsterEventType.RUN_START.value, job_name=job.name))
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED
    requests, skip = _tick(defs, instance)
    assert requests == [] and "in progress" in skip

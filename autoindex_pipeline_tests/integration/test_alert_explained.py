"""Why a failed run needs no alert of its own, read from that run's provider calls alone, on
SQLite and PostgreSQL: a run whose every call failed is the provider's outage however many
runs have recorded calls since (the sensor read the newest 200 rows of all runs, so an older
run was not found and paged a second time)."""

import datetime as dt

import dagster as dg

from autoindex_pipeline.defs.alerts.sensors import _explained
from autoindex_pipeline.defs.resources import WarehouseResource
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.provider_calls import record_run_calls, run_calls

AT = dt.datetime(2025, 6, 2, 22, 0, tzinfo=dt.UTC)


def test_a_run_whose_calls_all_failed_is_explained_behind_200_newer_runs(warehouse_url, tmp_path):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    record_run_calls(engine, "down", "prices", "twelvedata", calls=3, succeeded=0, failed=3, at=AT)
    record_run_calls(engine, "partly", "prices", "twelvedata", calls=3, succeeded=1, failed=2, at=AT)
    for i in range(201):
        record_run_calls(engine, f"later-{i}", "news_articles", "marketaux", calls=1, succeeded=1, failed=0,
                         at=AT + dt.timedelta(minutes=i + 1))
    assert [(r.calls, r.succeeded) for r in run_calls(engine, "down")] == [(3, 0)]
    warehouse = WarehouseResource(url=warehouse_url)
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        assert _explained(instance, warehouse, "down") == "every provider call failed: alerted as the provider's outage"
        assert _explained(instance, warehouse, "partly") is None
        assert _explained(instance, warehouse, "never-fetched") is None

"""What a run over a range of sessions writes into Dagster before its first step (planned
events), and what the instance (and so the UI) then says about each partition, on both
backends: one planned event per partition of `prices`, one for each unpartitioned asset, and
the partitions of a failed run reported failed."""

from collections import Counter

import dagster as dg
import pandas as pd

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.prices.definitions import PRICES_JOB
from autoindex_pipeline_tests.conftest import write_config

PRICES = dg.AssetKey("prices")


def _planned(instance, run_id: str) -> Counter:
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=100_000).records
    return Counter(r.event_log_entry.dagster_event.asset_key.to_user_string() for r in records)


def _malformed_files_config(tmp_path):
    bad = tmp_path / "prices.csv"
    bad.write_text("symbol,date,open,high,low,close,volume\nAAPL,2025-06-09,1,2,1,2,10\nAAPL,2025-06-10,1,2\n")
    path = write_config(tmp_path, providers={"prices": "files", "shares": "sample", "files": {"prices_path": str(bad)}})
    return str(path), load_config(path)


def _engines(instance) -> set[str]:
    storages = (instance.run_storage, instance.event_log_storage)
    return {type(s._engine.pool).__name__ for s in storages if hasattr(s, "_engine")}


def test_unpartitioned_assets_are_planned_once_and_a_failed_run_leaves_its_partitions_failed(stack, tmp_path, monkeypatch):
    path, config, instance = stack
    pools_before = _engines(instance)
    result = run_prices_job(config, path, pd.Timestamp("2025-06-02"), pd.Timestamp("2025-06-06"), instance=instance)
    assert result.success
    # Dagster 1.13 planned the unpartitioned assets (`assets`, `market_cap_data`, ...) once per
    # session of the run too.
    planned = _planned(instance, result.run_id)
    assert planned.pop("prices") == 5 and {"assets", "market_cap_data"} <= set(planned)
    assert set(planned.values()) == {1}, planned
    # The run's pooled connections are closed: the storages are back on their own engines.
    assert _engines(instance) == pools_before

    partitions = build_definitions(path).resolve_job_def(PRICES_JOB).partitions_def
    failing_path, failing_config = _malformed_files_config(tmp_path)
    failed = run_prices_job(failing_config, failing_path, pd.Timestamp("2025-06-09"), pd.Timestamp("2025-06-10"),
                            instance=instance)
    assert not failed.success
    keys = ["2025-06-06", "2025-06-09", "2025-06-10"]
    status = instance.get_status_by_partition(PRICES, keys, partitions)
    assert status == {"2025-06-06": dg.AssetPartitionStatus.MATERIALIZED,
                      "2025-06-09": dg.AssetPartitionStatus.FAILED, "2025-06-10": dg.AssetPartitionStatus.FAILED}

    # Why the runs keep one planned event per partition: with Dagster's opt-in single planned
    # event (a partition subset), a failed run's partitions are not failed, only never
    # materialized; the UI shows them as missing.
    monkeypatch.setenv("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "1")
    subset = run_prices_job(failing_config, failing_path, pd.Timestamp("2025-06-11"), pd.Timestamp("2025-06-12"),
                            instance=instance)
    assert not subset.success
    assert _planned(instance, subset.run_id)["prices"] == 1
    hidden = instance.get_status_by_partition(PRICES, ["2025-06-11", "2025-06-12"], partitions)
    assert dg.AssetPartitionStatus.FAILED not in hidden.values()

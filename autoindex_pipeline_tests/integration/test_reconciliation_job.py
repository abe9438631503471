"""The monthly cross-source spot check on SQLite and PostgreSQL: quality.reconciliation_sample is
honoured (and only the sampled symbols are asked of the second source), a close 1 % off fails
the run naming it, and the per-run check on prices exists only when asked for."""

import datetime as dt

import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.services.reconciliation import parse_month, previous_month
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_prices
from autoindex_pipeline_tests.conftest import write_config

MARCH = (pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-31"))


def _second_source(tmp_path, config, tamper: bool):
    frame = SampleProvider(config.universe_frame).fetch_prices(config.symbols, dt.date(2025, 3, 3), dt.date(2025, 3, 31)).frame
    if tamper:
        frame.loc[(frame["symbol"] == "KO") & (frame["date"] == "2025-03-12"), "close"] *= 1.01  # 1% off
    path = tmp_path / "second.csv"
    frame.drop(columns=["source"]).to_csv(path, index=False)
    return path


def _run(path, instance, month="2025-03"):
    job = build_definitions(str(path)).resolve_job_def("reconciliation_job")
    result = job.execute_in_process(instance=instance, raise_on_error=False,
                                    run_config={"ops": {"reconcile_prices": {"config": {"month": month}}}})
    step = [e for e in result.all_events if e.event_type_value in ("STEP_OUTPUT", "STEP_FAILURE")][0]
    if step.event_type_value == "STEP_OUTPUT":
        return result, step.event_specific_data.metadata
    return result, step.step_failure_data.user_failure_data.metadata


@pytest.mark.parametrize("sample", [5, 10000])
def test_the_monthly_spot_check_honours_the_sample_and_catches_a_mismatch(stack, tmp_path, sample):
    base_path, base, instance = stack
    assert run_prices_job(base, base_path, *MARCH, instance=instance).success
    second = _second_source(tmp_path, base, tamper=sample > 100)
    path = write_config(tmp_path, providers={"files": {"prices_path": str(second)}},
                        quality={"reconciliation_provider": "files", "reconciliation_sample": sample})
    result, meta = _run(path, instance)
    if sample == 5:
        assert result.success
        assert meta["sample_size"].value == 5 and meta["compared"].value == 5
        assert meta["symbols_requested"].value <= 5  # only the sampled symbols are asked for
        assert meta["month"].value == "2025-03" and meta["mismatches"].value == 0
    else:
        assert not result.success
        stored = read_prices(create_warehouse_engine(base.database_url()), start=dt.date(2025, 3, 1), end=dt.date(2025, 3, 31))
        assert meta["compared"].value == int(stored["close"].gt(0).sum()) > 200  # every stored close of March
        assert meta["mismatches"].value == 1
        assert "KO" in meta["offending_rows"].value and "2025-03-12" in meta["offending_rows"].value


def test_no_second_source_is_a_clear_failure(stack):
    path, _, instance = stack
    result = build_definitions(path).resolve_job_def("reconciliation_job").execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "set quality.reconciliation_provider" in failure.event_specific_data.error.message


def test_per_run_reconciliation_only_when_asked(tmp_path):
    def prices_checks(**quality):
        path = write_config(tmp_path, quality={"reconciliation_provider": "sample", **quality})
        asset = build_definitions(str(path)).resolve_assets_def("prices")
        return {k.name for k in asset.check_keys}

    assert "reconciliation" not in prices_checks()
    assert "reconciliation" in prices_checks(reconciliation_every_run=True)
    assert load_config(write_config(tmp_path)).quality.reconciliation_every_run is False


def test_month_bounds():
    assert previous_month(dt.date(2026, 3, 1)) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    assert previous_month(dt.date(2026, 1, 15)) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert parse_month("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 2, 29))

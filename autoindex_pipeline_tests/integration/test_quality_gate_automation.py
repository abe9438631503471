"""The quality gate as Dagster automation sees it: a prices partition whose only findings are
warnings lets the downstream assets be requested; a partition with a blocking failure does not.

Why this needs a real instance: Dagster's automation reads ANY failed blocking check as "not
passed", whatever its severity, while inside a run only ERROR blocks. The registry makes every
blocking check fail at ERROR and every warning non-blocking, and this is where that pays off.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.domain import quality as q
from autoindex_pipeline.domain.calendar import previous_session, sessions_between
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.services.price_checks import run_price_checks
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline_tests.conftest import write_config

HISTORY_START = dt.date(2024, 10, 1)
ROBUST_Z_ONLY = pd.Timestamp("2025-04-03")  # a clean symbol's z > 5 day inside the cap
BAD_PRINT = pd.Timestamp("2025-08-12")  # JPM close x10: OHLC validity and the return cap fail
DOWNSTREAM = ("quality_report", "allocations", "index_values", "risk_metrics")


def _history_and_day(config, session: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
    provider = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    frame = provider.fetch_prices(config.symbols, HISTORY_START, session.date()).frame
    return frame[frame["date"] < session], frame[frame["date"] == session]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    create_warehouse_engine.cache_clear()
    path = write_config(tmp_path, prices={"start_date": "2025-01-02"})
    return str(path), load_config(path)


def test_a_robust_z_only_partition_fails_no_blocking_check(setup):
    _, config = setup
    history, day = _history_and_day(config, ROBUST_Z_ONLY)
    outcomes = run_price_checks(day, pd.DatetimeIndex([ROBUST_Z_ONLY]), history=history, as_of=ROBUST_Z_ONLY)
    failed = {o.name for o in outcomes if not o.passed}
    assert "robust_z" in failed
    blocking = {r.name for r in q.RULES if r.blocking}
    assert not failed & blocking, failed
    assert all(o.severity == q.WARN and set(o.offending["severity"]) == {q.WARN} for o in outcomes if not o.passed)
    # The other way round: the bad print's partition fails blocking checks, at ERROR.
    history, day = _history_and_day(config, BAD_PRINT)
    outcomes = run_price_checks(day, pd.DatetimeIndex([BAD_PRINT]), history=history, as_of=BAD_PRINT)
    failed_blocking = {o.name: o.severity for o in outcomes if not o.passed and o.name in blocking}
    assert failed_blocking == {"ohlc_validity": q.ERROR, "return_cap": q.ERROR}


def _checks(instance: dg.DagsterInstance, run_id: str) -> dict[str, dg.AssetCheckEvaluation]:
    records = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    return {r.dagster_event.event_specific_data.check_name: r.dagster_event.event_specific_data for r in records}


@pytest.mark.parametrize(("session", "requested"), [(ROBUST_Z_ONLY, True), (BAD_PRINT, False)], ids=["warnings_only", "blocking_failure"])
def test_automation_requests_downstream_only_when_blocking_checks_pass(setup, tmp_path, session, requested):
    path, config = setup
    engine = create_warehouse_engine(config.database_url())
    upgrade(engine)
    history, _ = _history_and_day(config, session)
    # The look-back checks read the sessions before the partition from the warehouse.
    load.replace_prices(engine, history, config.symbols, HISTORY_START, previous_session(session, config.prices.calendar).date())
    defs = build_definitions(path)
    prices = defs.get_repository_def().assets_defs_by_key[dg.AssetKey("prices")]  # resources bound
    (tmp_path / "dg").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dg")) as instance:
        before = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        result = dg.materialize(
            [prices], instance=instance, partition_key=session.strftime("%Y-%m-%d"), raise_on_error=False,
        )
        assert result.success is requested
        # Either way the partition was written and its checks evaluated: automation decides on them.
        assert instance.get_latest_materialization_event(dg.AssetKey("prices")) is not None
        checks = _checks(instance, result.run_id)
        blocking_failed = {name for name, c in checks.items() if c.blocking and not c.passed}
        if requested:
            assert not checks["robust_z"].passed and checks["robust_z"].severity == dg.AssetCheckSeverity.WARN
            assert not checks["robust_z"].blocking and not blocking_failed
        else:
            assert blocking_failed == {"ohlc_validity", "return_cap"}
            assert all(checks[n].severity == dg.AssetCheckSeverity.ERROR for n in blocking_failed)
        after = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=before.cursor)
        for key in DOWNSTREAM:
            assert after.get_requested_partitions(dg.AssetKey(key)) == ({None} if requested else set()), key
    assert len(sessions_between(session, session)) == 1  # the partition is one session

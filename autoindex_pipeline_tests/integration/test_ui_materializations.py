"""What a materialization of the index shows in the UI, from a real instance on both backends
(issue 16, finding 8): numbers the UI plots over materializations (level, daily return, total
return, drawdown; the risk metrics), the chart embedded in the page as an image (not a file
path), and the new checks on `risk_metrics` and `performance_reports` evaluated and passed."""

from __future__ import annotations

import base64
import re

import dagster as dg
import pytest

from autoindex_pipeline.cli.runner import run_index_job
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_table
from autoindex_pipeline_tests.integration.test_index_pipeline import indexed  # noqa: F401 (the fixture)

DATA_URI = re.compile(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


@pytest.fixture
def materialized(indexed):  # noqa: F811
    """The index job once more in this test's instance (the template holds the warehouse only):
    an incremental update that materializes every index asset and evaluates their checks."""
    path, config, instance = indexed
    assert run_index_job(config, path, instance=instance).success
    return indexed


def _latest(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None, key
    return event.asset_materialization.metadata


def _png(markdown: str) -> bytes:
    match = DATA_URI.search(markdown)
    assert match, markdown[:200]
    return base64.b64decode(match.group(1))


def test_index_values_carries_plottable_numbers_and_an_embedded_chart(materialized):
    _, config, instance = materialized
    engine = create_warehouse_engine(config.database_url())
    meta = _latest(instance, "index_values")
    for name in config.strategies:
        stored = read_table(engine, "index_values", {"strategy": name}).sort_values("date")
        for figure in ("level", "daily_return", "total_return", "drawdown"):
            assert isinstance(meta[f"{name} {figure}"], dg.FloatMetadataValue), (name, figure)
        assert meta[f"{name} level"].value == pytest.approx(stored["level"].iloc[-1], abs=1e-12)
        assert meta[f"{name} total_return"].value == pytest.approx(stored["level"].iloc[-1] / 100 - 1, abs=1e-12)
        assert meta[f"{name} drawdown"].value == pytest.approx(stored["level"].iloc[-1] / stored["level"].max() - 1, abs=1e-12)
        chart = meta[f"{name} chart"]
        assert isinstance(chart, dg.MarkdownMetadataValue)
        png = _png(chart.value)
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(png) < 150_000
    risk = _latest(instance, "risk_metrics")
    assert isinstance(risk["default sharpe"], dg.FloatMetadataValue) and isinstance(risk["default max_drawdown"], dg.FloatMetadataValue)
    reports = _latest(instance, "performance_reports")
    assert _png(reports["default monthly"].value)[:4] == b"\x89PNG"
    assert isinstance(reports["default monthly total_return"], dg.FloatMetadataValue)
    quality = _latest(instance, "quality_report")
    assert isinstance(quality["portfolio_score"], dg.FloatMetadataValue)
    assert _png(quality["trend"].value)[:4] == b"\x89PNG"  # the trend in the page, not only the HTML path


CHECKS = {"risk_metrics": ("risk_metrics_warmup", "risk_metrics_finite"),
          "performance_reports": ("performance_reports_current", "performance_figures_finite")}


def test_the_new_checks_run_with_the_index_and_pass(materialized):
    _, _, instance = materialized
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    for asset, checks in CHECKS.items():
        for check in checks:
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey(asset), check), limit=1)
            assert history and history[0].status == AssetCheckExecutionRecordStatus.SUCCEEDED, (check, history)
            evaluation = history[0].event.dagster_event.event_specific_data
            assert evaluation.passed and evaluation.metadata["evaluated"].value > 0, check

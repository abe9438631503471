"""What the Dagster UI shows of every asset (issue 16, finding 8): a column schema on every table
asset, owners, tags and a code version, freshness policies on `prices` and `index_values`, checks
on `risk_metrics` and `performance_reports`, and the switch that starts the schedules and the
automation sensor a deployment needs. The checks' own logic is tested on frames at the end."""

from __future__ import annotations

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.defs.shared import AUTOMATION_SENSOR, START_AUTOMATION_ENV_VAR
from autoindex_pipeline.domain import quality
from autoindex_pipeline.warehouse.schema import RISK_METRIC_COLUMNS
from autoindex_pipeline_tests.test_defs import ALERT_SENSORS as ALERT_SENSOR_NAMES

TABLE_ASSETS = {"assets", "market_cap_data", "prices", "news_articles", "news_sentiment", "sentiment_daily", "news_archive",
                "quality_report", "strategy_configs", "allocations", "index_values", "risk_metrics", "performance_reports",
                "capacity"}
# The maintenance calendar's unattended tasks run on both storages; a deployment left alone needs
# them (the reconciliation too, once a second source is configured).
MAINTENANCE_SCHEDULES = {"warehouse_backup_schedule", "news_retention_schedule", "analyze_warehouse_schedule",
                         "vacuum_analyze_warehouse_schedule", "backup_restore_test_schedule", "capacity_schedule",
                         "prune_run_history_schedule", "operations_checklist_schedule"}
DEPLOYMENT_SCHEDULES = {"prices_after_close", "catch_up", "news_every_15_minutes", *MAINTENANCE_SCHEDULES}


@pytest.fixture(scope="module")
def graph():
    return build_definitions().resolve_asset_graph()


def _node(graph, key: str):
    return graph.get(dg.AssetKey(key))


def test_every_table_asset_has_a_column_schema_owners_tags_and_a_code_version(graph):
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert TABLE_ASSETS <= keys
    for key in sorted(TABLE_ASSETS):
        node = _node(graph, key)
        schema = node.metadata.get("dagster/column_schema")
        assert isinstance(schema, dg.TableSchema) and len(schema.columns) >= 3, key
        assert node.owners == ["team:autoindex"], key
        assert node.tags.get("domain") and node.tags.get("tier") in {"core", "support"}, key
        assert node.code_version, key
    columns = {c.name for c in _node(graph, "risk_metrics").metadata["dagster/column_schema"].columns}
    assert {"n_returns", *RISK_METRIC_COLUMNS} <= columns
    index_columns = {c.name: c for c in _node(graph, "index_values").metadata["dagster/column_schema"].columns}
    assert index_columns["level"].type == "float" and not index_columns["level"].constraints.nullable
    # market_cap_data is what users read of it: market cap and volume per session (the view).
    assert {"market_cap", "volume", "dollar_volume"} <= {
        c.name for c in _node(graph, "market_cap_data").metadata["dagster/column_schema"].columns}
    assert "allocation_sleeves.sleeve" in {c.name for c in _node(graph, "allocations").metadata["dagster/column_schema"].columns}


def test_prices_and_index_values_carry_freshness_policies(graph):
    for key in ("prices", "index_values", "news_articles"):
        assert _node(graph, key).freshness_policy is not None, key
    assert _node(graph, "risk_metrics").freshness_policy is None


def test_risk_metrics_and_performance_reports_carry_checks(graph):
    defs = build_definitions()
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert {("risk_metrics", "risk_metrics_warmup"), ("risk_metrics", "risk_metrics_finite")} <= checks
    assert {("performance_reports", "performance_reports_current"), ("performance_reports", "performance_figures_finite")} <= checks


@pytest.mark.parametrize("value", [None, "0", "1"])
def test_the_switch_starts_the_deployment_schedules_and_the_automation_sensor(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(START_AUTOMATION_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(START_AUTOMATION_ENV_VAR, value)
    repo = build_definitions().get_repository_def()
    schedules = {s.name: s.default_status for s in repo.schedule_defs}
    sensors = {s.name: s.default_status for s in repo.sensor_defs}
    expected = dg.DefaultScheduleStatus.RUNNING if value == "1" else dg.DefaultScheduleStatus.STOPPED
    assert {schedules[name] for name in DEPLOYMENT_SCHEDULES} == {expected}
    assert sensors[AUTOMATION_SENSOR] == (dg.DefaultSensorStatus.RUNNING if value == "1" else dg.DefaultSensorStatus.STOPPED)
    # The alert sensors too: a deployment started by the switch and left alone must page.
    alerting = {sensors[name] for name in ALERT_SENSOR_NAMES}
    assert alerting == {dg.DefaultSensorStatus.RUNNING if value == "1" else dg.DefaultSensorStatus.STOPPED}
    # The automation sensor covers the automated assets (the index, quality and reports).
    sensor = next(s for s in repo.sensor_defs if s.name == AUTOMATION_SENSOR)
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
    # Without a second source the reconciliation can only fail: it stays stopped whatever the switch.
    assert schedules["reconciliation_schedule"] == dg.DefaultScheduleStatus.STOPPED


@pytest.mark.parametrize("value", [None, "1"])
def test_the_switch_starts_the_reconciliation_once_a_second_source_is_configured(monkeypatch, tmp_path, value):
    from autoindex_pipeline_tests.conftest import write_config

    if value is None:
        monkeypatch.delenv(START_AUTOMATION_ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(START_AUTOMATION_ENV_VAR, value)
    path = write_config(tmp_path, quality={"reconciliation_provider": "sample"})
    schedules = {s.name: s.default_status for s in build_definitions(str(path)).get_repository_def().schedule_defs}
    expected = dg.DefaultScheduleStatus.RUNNING if value == "1" else dg.DefaultScheduleStatus.STOPPED
    assert schedules["reconciliation_schedule"] == expected


def test_the_readme_lists_the_switch():
    from autoindex_pipeline_tests.test_defs import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    assert f"{START_AUTOMATION_ENV_VAR}=1" in readme
    for name in (*DEPLOYMENT_SCHEDULES, AUTOMATION_SENSOR):
        assert f"`{name}`" in readme, name


# --- the new checks' logic ----------------------------------------------------------------------

def _metrics(n: int, strategy: str = "default") -> pd.DataFrame:
    frame = pd.DataFrame({"strategy": strategy, "date": pd.bdate_range("2025-01-02", periods=n), "n_returns": np.arange(n)})
    for name in RISK_METRIC_COLUMNS:
        frame[name] = np.where(frame["n_returns"] >= 20, 0.1, np.nan)
    return frame


def test_risk_metric_checks_pass_on_what_the_methodology_stores():
    frame = _metrics(30)
    assert quality.check_risk_metrics_warmup(frame, RISK_METRIC_COLUMNS).passed
    assert quality.check_risk_metrics_finite(frame, RISK_METRIC_COLUMNS).passed


def test_a_metric_from_too_few_returns_fails_the_warmup_check():
    frame = _metrics(30)
    frame.loc[12, "sharpe"] = 0.0  # a 0 where there is no figure
    outcome = quality.check_risk_metrics_warmup(frame, RISK_METRIC_COLUMNS)
    assert not outcome.passed and outcome.severity == quality.ERROR and outcome.offending_count == 1
    row = outcome.offending.iloc[0]
    assert (row["symbol"], pd.Timestamp(row["date"]), row["reason"]) == (
        "default", frame.loc[12, "date"], "sharpe stored with 12 returns (< 20)")


def test_an_infinite_or_missing_headline_metric_fails_the_finite_check():
    frame = _metrics(30)
    frame.loc[25, "calmar"] = np.inf
    frame.loc[26, "volatility"] = np.nan
    frame.loc[27, "beta"] = np.nan  # undefined ratios may stay NULL
    outcome = quality.check_risk_metrics_finite(frame, RISK_METRIC_COLUMNS)
    assert not outcome.passed and outcome.offending_count == 2
    assert set(outcome.offending["reason"]) == {"calmar is not finite", "volatility missing with 26 returns"}


def test_a_strategy_without_a_current_report_fails_the_reports_check():
    newest = {"default": pd.Timestamp("2025-06-30"), "late": pd.Timestamp("2025-06-30")}
    reports = pd.DataFrame([
        *({"strategy": "default", "period": p, "as_of": pd.Timestamp("2025-06-30")} for p in ("daily", "weekly", "monthly")),
        {"strategy": "late", "period": "daily", "as_of": pd.Timestamp("2025-06-27")},
    ])
    outcome = quality.check_reports_current(reports, newest, ("daily", "weekly", "monthly"))
    assert not outcome.passed and outcome.severity == quality.WARN
    assert sorted(outcome.offending["reason"]) == [
        "no daily report beyond 2025-06-27 (index to 2025-06-30)", "no monthly report (index to 2025-06-30)",
        "no weekly report (index to 2025-06-30)"]
    assert quality.check_reports_current(reports[reports["strategy"] == "default"], {"default": newest["default"]},
                                         ("daily", "weekly", "monthly")).passed


def test_an_infinite_report_figure_fails_the_figures_check():
    figures = pd.DataFrame({"strategy": "default", "as_of": pd.Timestamp("2025-06-30"), "period": "daily",
                            "metric": ["sharpe", "total_return"], "index_value": [np.inf, 0.01],
                            "benchmark_value": [None, 0.02], "active_value": [None, -0.01]})
    outcome = quality.check_report_figures_finite(figures, ("index_value", "benchmark_value", "active_value"))
    assert not outcome.passed and outcome.offending["reason"].tolist() == ["daily sharpe index_value is not finite"]

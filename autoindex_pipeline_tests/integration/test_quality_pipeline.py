"""Data quality in real runs on SQLite and PostgreSQL: checks evaluate what the run wrote and name
the offending rows, a blocking failure stops the index in the same run, overrides are audited
and let it through, the quality report gates allocations and renders its grid."""

import datetime as dt
import json

import dagster as dg
import pandas as pd
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.cli.runner import run_pipeline_job
from autoindex_pipeline.config import load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.overrides import read_audit, set_override
from autoindex_pipeline.warehouse.read import read_table
from autoindex_pipeline_tests.conftest import write_config

CLEAN = (pd.Timestamp("2025-01-02"), pd.Timestamp("2025-04-30"))  # no bad print, no blocking error
WITH_BAD_PRINT = (pd.Timestamp("2025-06-02"), pd.Timestamp("2025-09-30"))  # JPM close x10 on 2025-08-12


def _config(tmp_path):
    path = write_config(tmp_path, prices={"start_date": "2024-10-01"}, quality={"report_sessions": 60})
    return str(path), load_config(path)


def _checks(result, asset="prices"):
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.to_user_string() == asset
    }


def test_clean_window_passes_every_blocking_check_and_builds_the_index(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path)
    result = run_pipeline_job(config, path, pd.Timestamp("2024-10-01"), CLEAN[1], instance=instance)
    assert result.success
    checks = _checks(result)
    for name in ("ohlc_validity", "positive_prices_and_volume", "duplicates", "return_cap"):
        assert checks[name].passed or checks[name].severity == dg.AssetCheckSeverity.WARN, name
    assert "great_expectations" in checks["ohlc_validity"].metadata
    gate = _checks(result, "quality_report")["portfolio_quality_score"]
    assert gate.passed and gate.metadata["observed"].value >= 0.9
    index_checks = _checks(result, "index_values")
    assert index_checks["index_recomputation"].passed and index_checks["index_session_gaps"].passed
    assert all(c.passed for c in _checks(result, "allocations").values())
    engine = create_warehouse_engine(config.database_url())
    assert len(read_table(engine, "index_values")) > 0
    scores = read_table(engine, "quality_scores")
    assert set(scores["colour"]) <= {"green", "yellow", "red", "grey"} and len(scores) == len(config.symbols)
    html = (config.data_dir / "reports" / "quality" / "quality_report.html").read_text()
    assert "<img" in html or "<table" in html
    # The performance reports: rows for each period kind, and the monthly page with its chart.
    reports = read_table(engine, "performance_reports", {"strategy": "default"})
    assert set(reports["period"]) == {"daily", "weekly", "monthly"}
    monthly = reports[(reports["period"] == "monthly") & (reports["label"] == "2025-04") & (reports["section"] == "period")]
    assert {"total_return", "max_drawdown"} <= set(monthly["metric"])
    page = config.data_dir / "reports" / "default" / "monthly_2025-04.html"
    assert page.exists() and "data:image/png;base64" in page.read_text()
    assert (config.data_dir / "reports" / "default" / "monthly_2025-04.png").stat().st_size > 10_000


def test_a_bad_print_blocks_the_index_and_names_the_row(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path)
    result = run_pipeline_job(config, path, *WITH_BAD_PRINT, instance=instance)
    assert not result.success
    checks = _checks(result)
    assert not checks["ohlc_validity"].passed and not checks["return_cap"].passed
    evidence = checks["return_cap"].metadata["offending_rows"].value
    assert "JPM" in evidence and "2025-08-12" in evidence
    # Not the next (reverting) day, and no split confusion.
    assert "2025-08-13" not in checks["ohlc_validity"].metadata["offending_rows"].value
    assert checks["probable_splits"].metadata["offending_rows"].value.count("JPM") == 0
    skipped = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert "index_assets" in skipped or not any(e.step_key == "index_assets" for e in result.all_events if e.is_step_success)
    assert read_table(create_warehouse_engine(config.database_url()), "index_values").empty


def test_an_audited_override_lets_the_index_through_and_excludes_the_close(stack, tmp_path):
    _, _, instance = stack
    path, config = _config(tmp_path)
    engine = create_warehouse_engine(config.database_url())
    assert not run_pipeline_job(config, path, *WITH_BAD_PRINT, instance=instance).success
    set_override(engine, "JPM", dt.date(2025, 8, 12), "exclude", "fat-finger print, confirmed with the exchange", "analyst")
    result = run_pipeline_job(config, path, *WITH_BAD_PRINT, instance=instance)
    assert result.success
    checks = _checks(result)
    assert checks["ohlc_validity"].passed and checks["ohlc_validity"].metadata["overridden_rows"].value == 1
    # An overridden row is no observed failure: "passed, observed 0", the override counted apart.
    assert checks["ohlc_validity"].metadata["observed"].value == 0 and checks["ohlc_validity"].metadata["offending_count"].value == 0
    assert checks["return_cap"].passed and checks["return_cap"].metadata["observed"].value <= config.strategies["default"].max_daily_return
    audit = read_audit(engine)
    assert audit.iloc[-1]["who"] == "analyst" and audit.iloc[-1]["action"] == "override_exclude"
    raw = read_table(engine, "prices")
    jpm = raw[(raw["symbol"] == "JPM") & (pd.to_datetime(raw["date"]) == "2025-08-12")]
    assert len(jpm) == 1  # the raw row stays as the provider sent it


def test_quality_cli_override_report_and_audit(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("AUTOINDEX_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    path, config = _config(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["run", "--config", path, "--start", "2024-10-01", "--end", "2025-03-31"]).exit_code == 0
    out = runner.invoke(main, ["quality", "override", "JPM", "2025-03-03", "--action", "accept",
                               "--reason", "genuine move", "--by", "tester", "--config", path])
    assert out.exit_code == 0, out.output
    report = runner.invoke(main, ["quality", "report", "--output", str(tmp_path / "qr"), "--config", path])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "qr" / "quality_report.html").exists() and "portfolio score" in report.output.lower()
    audit = runner.invoke(main, ["quality", "audit", "--config", path])
    assert "tester" in audit.output and "genuine move" in audit.output
    bad = runner.invoke(main, ["quality", "override", "JPM", "2025-03-03", "--action", "delete", "--reason", "x", "--config", path])
    assert bad.exit_code != 0


def test_reconciliation_against_a_second_source_fails_beyond_0_2_percent(stack, tmp_path):
    _, _, instance = stack
    from autoindex_pipeline.providers.prices.sample import SampleProvider

    base = load_config(write_config(tmp_path))
    second = SampleProvider(base.universe_frame).fetch_prices(base.symbols, dt.date(2025, 3, 3), dt.date(2025, 3, 7)).frame
    second.loc[(second["symbol"] == "AAPL") & (second["date"] == "2025-03-05"), "close"] *= 1.01  # 1% off
    second_path = tmp_path / "second.csv"
    second.drop(columns=["source"]).to_csv(second_path, index=False)
    path = write_config(tmp_path, providers={"files": {"prices_path": str(second_path)}},
                        quality={"reconciliation_provider": "files", "reconciliation_sample": 10000,
                                 "reconciliation_every_run": True})
    config = load_config(path)
    result = run_pipeline_job(config, str(path), pd.Timestamp("2025-03-03"), pd.Timestamp("2025-03-07"), instance=instance)
    check = _checks(result)["reconciliation"]
    assert not check.passed
    assert "AAPL" in check.metadata["offending_rows"].value and "2025-03-05" in check.metadata["offending_rows"].value
    assert json.loads(json.dumps(check.metadata["offending_count"].value)) == 1
    assert not result.success  # reconciliation is blocking

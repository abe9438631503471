"""The validation rate on the real pipeline, SQLite and PostgreSQL: the prices run's own rate in
its metadata, the per-session rate in the quality report (metadata, Markdown, HTML, stored
check figures) and its WARN check below 95 %; a settled refusal heals its session."""

import dagster as dg
import pandas as pd
import pytest

from autoindex_pipeline.cli.runner import run_prices_job
from autoindex_pipeline.definitions import build_definitions
from autoindex_pipeline.services.quality_report import build_quality_report, validation_metadata
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.overrides import set_override

BAD_PRINT = pd.Timestamp("2025-08-12")  # the sample provider's JPM close x10: refused by blocking checks
SYMBOLS = 13  # the test universe and the benchmark


def _materializations(instance, key):
    records = instance.fetch_materializations(dg.AssetKey(key), limit=10).records
    return [r.asset_materialization for r in records]


def test_validation_rate_per_run_and_per_session(stack, tmp_path):
    path, config, instance = stack
    result = run_prices_job(config, path, pd.Timestamp("2025-08-08"), pd.Timestamp("2025-08-13"), instance=instance)
    assert result is not None
    prices = _materializations(instance, "prices")[0].metadata
    checked = prices["rows_checked"].value
    assert checked == 4 * SYMBOLS
    assert prices["validation_rate"].value == pytest.approx((checked - 1) / checked)  # one refused delivery

    engine = create_warehouse_engine(config.database_url())
    report = build_quality_report(engine, config, tmp_path / "q")
    daily = report.validation.set_index("date")
    assert daily.loc[BAD_PRINT, "checked"] == SYMBOLS and daily.loc[BAD_PRINT, "passed"] == SYMBOLS - 1
    assert daily.loc[pd.Timestamp("2025-08-11"), "rate"] == 1.0
    check = report.validation_check
    assert check.name == "validation_rate" and not check.passed and check.severity == "WARN"
    assert check.offending["date"].tolist() == [BAD_PRINT]
    assert "Validation rate" in report.markdown and "| 2025-08-12 | 13 | 12 | 92.31% |" in report.markdown
    assert "validation rate" in report.html_path.read_text()
    meta = validation_metadata(report.validation)
    assert meta["validation_rate_newest_session"] == 1.0
    assert meta["validation_rate"] == pytest.approx((4 * SYMBOLS - 1) / (4 * SYMBOLS))

    # The quality_report asset carries it and its check (WARN: never blocks the index).
    defs = build_definitions(path)
    done = dg.materialize([defs.resolve_assets_def("quality_report")], instance=instance, raise_on_error=False)
    evaluations = {e.check_name: e for e in done.get_asset_check_evaluations()}
    assert evaluations["validation_rate"].severity == dg.AssetCheckSeverity.WARN and not evaluations["validation_rate"].passed
    assert _materializations(instance, "quality_report")[0].metadata["validation_rate_per_session"].value[-2]["rate"] < 0.95

    # Settled (the print is wrong and excluded): the session validates again.
    set_override(engine, "JPM", BAD_PRINT.date(), "exclude", "test: wrong print", "tester")
    healed = build_quality_report(engine, config, tmp_path / "q")
    assert healed.validation_check.passed
    assert healed.validation.set_index("date").loc[BAD_PRINT, "rate"] == 1.0

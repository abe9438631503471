"""The `autoindex` commands as a user runs them, on the embedded default."""

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.read import read_prices
from autoindex_pipeline_tests.conftest import write_config


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """A fresh laptop: no DAGSTER_HOME, no database URL, a small universe."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    return write_config(tmp_path)


def _invoke(*args):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_demo_builds_the_warehouse_and_prints_a_summary(embedded, tmp_path):
    result = _invoke("demo", "--years", "0.25", "--config", str(embedded))
    assert result.exit_code == 0, result.output
    assert "AutoIndex summary" in result.output
    assert "completeness" in result.output and "dagster dev" in result.output
    assert (tmp_path / "data" / "warehouse.sqlite").exists()
    assert (tmp_path / "data" / "dagster_home" / "dagster.yaml").exists()
    prices = read_prices(create_warehouse_engine(load_config(embedded).database_url()))
    assert prices["symbol"].nunique() >= 10


def test_export_csv_and_parquet(embedded, tmp_path):
    assert _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-06").exit_code == 0
    csv_path, pq_path = tmp_path / "p.csv", tmp_path / "p.parquet"
    assert _invoke("export", "prices", "--config", str(embedded), "--output", str(csv_path)).exit_code == 0
    assert _invoke("export", "prices", "--config", str(embedded), "--format", "parquet", "--output", str(pq_path)).exit_code == 0
    from_csv, from_parquet = pd.read_csv(csv_path), pd.read_parquet(pq_path)
    assert len(from_csv) == len(from_parquet) > 0
    assert set(from_csv.columns) >= {"symbol", "date", "open", "high", "low", "close", "volume", "source"}


def test_smart_refresh_fetches_only_the_missing_and_incomplete_sessions(embedded):
    assert _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-13").exit_code == 0
    engine = create_warehouse_engine(load_config(embedded).database_url())
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM prices WHERE date = '2025-06-04'"))
        conn.execute(sa.text("DELETE FROM prices WHERE date = '2025-06-12' AND symbol IN ('AAPL', 'MSFT')"))
    before = len(read_prices(engine))
    result = _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-13", "--refresh", "smart")
    assert result.exit_code == 0, result.output
    assert "2025-06-04 .. 2025-06-04 (1 sessions, missing)" in result.output
    assert "2025-06-12 .. 2025-06-12 (1 sessions, incomplete)" in result.output
    # The sample provider never delivers KO on 2025-06-10 (an injected missing day): with 13
    # symbols that session is below the coverage threshold, so smart refresh retries it.
    assert "2025-06-10 .. 2025-06-10 (1 sessions, incomplete)" in result.output
    assert len(read_prices(engine)) > before
    again = _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-09", "--refresh", "smart")
    assert "nothing to do" in again.output


def test_bad_config_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, strategies={"default": {"risk_parity_weight": -1}})
    result = CliRunner().invoke(main, ["demo", "--config", str(path)])
    assert result.exit_code == 2
    assert "strategies.default.risk_parity_weight" in result.output


def test_db_upgrade_reports_the_revision(embedded):
    result = _invoke("db", "upgrade", "--config", str(embedded))
    from autoindex_pipeline.warehouse.migrate import head_revision

    assert result.exit_code == 0 and f"revision {head_revision()}" in result.output


def test_cli_runs_news_with_the_prices_and_archives_it(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv(DATABASE_URL_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    config = str(write_config(tmp_path))
    runner = CliRunner()
    result = runner.invoke(main, ["run", "--config", config, "--start", "2025-06-02", "--end", "2025-06-06", "--news"],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "news: 2025-06-02 .. 2025-06-06 (5 days)" in result.output
    assert "news and sentiment" in result.output and "top movers on 2025-06-06" in result.output
    archive = ["news", "archive", "--config", config, "--as-of", "2025-09-02"]  # cutoff 2025-06-04
    first = runner.invoke(main, archive, catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert "archived articles dated before 2025-06-04: moved " in first.output and "moved 0 articles" not in first.output
    again = runner.invoke(main, archive, catch_exceptions=False)
    assert "moved 0 articles and 0 scores" in again.output
    unknown = runner.invoke(main, ["run", "--config", config, "--select", "news_stuff"])
    assert unknown.exit_code == 2 and "sentiment_daily" in unknown.output

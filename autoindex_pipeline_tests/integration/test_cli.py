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
    assert "coverage" in result.output and "warnings" in result.output and "dagster dev" in result.output
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


# ---------------------------------------------------------------- messages a user can act on


def _lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.strip()]


def test_bad_dates_and_ranges_are_one_line_each(embedded):
    config = str(embedded)
    cases = {
        ("run", "--start", "2022-13-45"): "error: --start '2022-13-45' is not a date; write it as YYYY-MM-DD",
        ("run", "--start", "2025-06-10", "--end", "2025-06-01"): "error: --start 2025-06-10 is after --end 2025-06-01",
        ("run", "--start", "2025-06-07", "--end", "2025-06-08"): "error: no XNYS sessions between 2025-06-07 and 2025-06-08",
        ("quality", "absent", "KO", "--from", "2025-02-30", "--kind", "halt", "--reason", "x"): "error: --from '2025-02-30' is not a date",
        ("quality", "absent", "ZZZZ", "--from", "2025-02-03", "--kind", "halt", "--reason", "x"): "error: ZZZZ is not in the universe",
    }
    for args, expected in cases.items():
        result = _invoke(*args, "--config", config)
        assert result.exit_code == 2, (args, result.output)
        assert _lines(result.output) == [line for line in _lines(result.output) if line.startswith("error: ")]
        assert len(_lines(result.output)) == 1 and _lines(result.output)[0].startswith(expected), (args, result.output)


def test_a_database_that_is_down_is_one_short_message(embedded, monkeypatch):
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, "postgresql+psycopg://postgres@127.0.0.1:1/autoindex_down")
    create_warehouse_engine.cache_clear()
    result = _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-03")
    assert result.exit_code == 2
    text = result.output
    assert "error: cannot reach the database: " in text and "Connection refused" in text
    assert "warehouse: postgresql+psycopg://postgres@127.0.0.1:1/autoindex_down" in text
    assert "Traceback" not in text and len(_lines(text)) <= 6
    verbose = _invoke("--verbose", "run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-03")
    assert verbose.exit_code == 2 and "Traceback (most recent call last)" in verbose.output
    assert "error: cannot reach the database: " in verbose.output


def test_a_blocked_run_names_the_checks_rows_and_commands(embedded):
    # The sample provider prints JPM's close x10 on 2025-08-12 (a documented fault).
    result = _invoke("run", "--config", str(embedded), "--start", "2025-08-11", "--end", "2025-08-13", "--select", "prices")
    assert result.exit_code == 2, result.output
    text = result.output
    assert "blocked: check return_cap on prices found 1 offending row(s)" in text
    assert "  symbol JPM, date 2025-08-12, value 9.12756, reason return +912.8% beyond the cap" in text
    assert ("settle JPM 2025-08-12: re-fetch it with `autoindex run --refresh targeted --symbols JPM "
            "--start 2025-08-12 --end 2025-08-12`, or once reviewed `autoindex quality override JPM 2025-08-12 "
            "--action exclude|accept --reason") in text
    assert "step None" not in text and "Stack Trace" not in text and "Traceback" not in text
    assert text.count("error: run ") == 1


def test_a_malformed_file_fails_once_naming_file_and_line(embedded, tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,date,open,high,low,close,volume\nAAPL,2025-06-02,1,2,1,2,10\nAAPL,2025-06-03,1,2\n")
    config = write_config(tmp_path, providers={"prices": "files", "shares": "sample", "files": {"prices_path": str(prices)}})
    result = _invoke("run", "--config", str(config), "--start", "2025-06-02", "--end", "2025-06-03", "--select", "prices")
    assert result.exit_code == 2
    expected = f"step prices failed: files: {prices} line 3: 4 fields where the header has 7"
    assert result.output.count(expected) == 1, result.output
    assert "step None" not in result.output and "Stack Trace" not in result.output
    prices.write_text("symbol,date,open,high,low,close,volume\naapl,2025-06-02,1,2,1,2,10\n")
    lower = _invoke("run", "--config", str(config), "--start", "2025-06-02", "--end", "2025-06-03", "--select", "prices")
    assert lower.exit_code == 2 and "symbols not in the universe: 'aapl'" in lower.output
    assert "no prices" not in lower.output


def test_a_held_index_names_sessions_closes_and_commands_and_an_absence_settles_it(embedded):
    config = str(embedded)
    # KO has no row on 2025-06-10 (a documented sample fault), the last session of the range.
    result = _invoke("run", "--config", config, "--start", "2025-06-02", "--end", "2025-06-10")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "held: the index stops before 2025-06-10, the first incomplete session: default: 1 session(s) held " \
           "(2025-06-10): 2025-06-10 lacks the close of KO" in text
    assert "autoindex run --refresh targeted --symbols KO --start 2025-06-10 --end 2025-06-10" in text
    assert "autoindex quality absent KO --from 2025-06-10 --kind halt|delisted|no_data" in text
    assert "autoindex quality override KO 2025-06-10 --action exclude" in text
    absent = _invoke("quality", "absent", "ko", "--from", "2025-06-10", "--kind", "no_data",
                     "--reason", "the provider has no row", "--by", "analyst", "--config", config)
    assert absent.exit_code == 0, absent.output
    assert absent.output.startswith("KO no_data 2025-06-10 (by analyst: the provider has no row)")
    delisted = _invoke("quality", "absent", "WBA", "--from", "2026-03-03", "--kind", "delisted", "--reason", "delisted",
                       "--config", config)
    assert "WBA delisted from 2026-03-03 on" in delisted.output
    audit = _invoke("quality", "audit", "--config", config).output
    assert "absence_no_data" in audit and "known absences (2)" in audit and "open-ended" in audit
    again = _invoke("run", "--config", config, "--end", "2025-06-10", "--select", "index_values")
    assert again.exit_code == 0, again.output
    assert "held:" not in again.output and "refresh:" not in again.output


def test_smart_refresh_without_dates_starts_at_the_first_stored_session(embedded, tmp_path):
    empty = _invoke("run", "--config", str(embedded), "--refresh", "smart", "--end", "2016-01-06", "--select", "prices")
    assert empty.exit_code == 0, empty.output
    assert "smart refresh: the warehouse holds no prices; planning from prices.start_date 2016-01-04" in empty.output
    assert "2016-01-04 .. 2016-01-06 (3 sessions, missing)" in empty.output
    engine = create_warehouse_engine(load_config(embedded).database_url())
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM prices"))
    assert _invoke("run", "--config", str(embedded), "--start", "2025-06-02", "--end", "2025-06-06",
                   "--select", "prices").exit_code == 0
    smart = _invoke("run", "--config", str(embedded), "--refresh", "smart", "--end", "2025-06-06", "--select", "prices")
    assert smart.exit_code == 0, smart.output
    assert "smart refresh: planning from the first stored session 2025-06-02" in smart.output
    assert "nothing to do" in smart.output


def test_documented_sample_absences_are_grouped_and_dated(embedded):
    from autoindex_pipeline.cli.demo import documented_absences
    from autoindex_pipeline.providers.prices.sample import SampleProvider

    config = load_config(embedded)
    events = SampleProvider(config.universe_frame, seed=config.providers.sample.seed).fault_events(
        pd.Timestamp("2025-01-02"), pd.Timestamp("2026-12-01"))
    absences = documented_absences(config, events[events["symbol"].isin(config.symbols)])
    halts = absences[absences["kind"] == "halt"]
    # One absence per halt (its 5 sessions), not one per session.
    assert halts[["symbol", "date_from", "date_to"]].astype(str).values.tolist() == [
        ["BA", "2025-05-12", "2025-05-16"], ["BA", "2026-05-12", "2026-05-18"]]
    (delisted,) = absences[absences["kind"] == "delisted"].itertuples()
    assert (delisted.symbol, str(delisted.date_from.date()), pd.isna(delisted.date_to)) == ("WBA", "2026-03-03", True)
    assert sorted(absences.loc[absences["kind"] == "no_data", "date_from"].dt.strftime("%Y-%m-%d")) == [
        "2025-02-10", "2025-06-10", "2025-10-13", "2026-02-10", "2026-06-10", "2026-10-13"]


@pytest.mark.heavy(25)
def test_a_second_demo_records_no_duplicate_absence(embedded):
    import re

    # KO's documented missing days are four months apart: half a year always holds one.
    first = _invoke("demo", "--years", "0.5", "--news-days", "0", "--config", str(embedded))
    assert first.exit_code == 0, first.output
    recorded = re.search(r"absence: no_data (KO \S+(?:, KO \S+)*) \((\d+) recorded, 0 already there;", first.output)
    assert recorded is not None, first.output
    engine = create_warehouse_engine(load_config(embedded).database_url())
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM price_absences")).scalar()
    assert rows >= int(recorded.group(2)) >= 1
    second = _invoke("demo", "--years", "0.5", "--news-days", "0", "--config", str(embedded))
    assert second.exit_code == 0, second.output
    assert f"absence: no_data {recorded.group(1)} (0 recorded, {recorded.group(2)} already there;" in second.output
    assert "held:" not in second.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM price_absences")).scalar() == rows


def test_run_is_one_pipeline_run_and_blocked_prices_never_reach_the_index(embedded, tmp_path):
    import dagster as dg

    config = str(embedded)
    first = _invoke("run", "--config", config, "--start", "2025-07-01", "--end", "2025-08-11")
    assert first.exit_code == 0, first.output
    engine = create_warehouse_engine(load_config(embedded).database_url())
    last_level = "SELECT MAX(date) FROM index_values WHERE strategy = 'default'"
    with engine.connect() as conn:
        assert str(conn.execute(sa.text(last_level)).scalar())[:10] == "2025-08-11"
    # The sample prints JPM's close x10 on 2025-08-12: the run fails on its blocking checks and
    # the index, inside the same run, never sees that session.
    blocked = _invoke("run", "--config", config, "--start", "2025-08-12", "--end", "2025-08-13")
    assert blocked.exit_code == 2 and "blocked: check return_cap on prices" in blocked.output, blocked.output
    with engine.connect() as conn:
        assert str(conn.execute(sa.text(last_level)).scalar())[:10] == "2025-08-11"
    instance = dg.DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home"))
    try:
        assert [run.job_name for run in instance.get_runs()] == ["pipeline_job", "pipeline_job"]
    finally:
        instance.dispose()

"""As-of runs on SQLite and PostgreSQL: recomputing the index from the data as the warehouse knew
it at a moment reproduces the index first computed then, bit for bit, however much was corrected
since; every replaced publication stays exportable as it was published."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from autoindex_pipeline.cli import main
from autoindex_pipeline.config import DATABASE_URL_ENV_VAR, load_config
from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.services.index import update_strategy
from autoindex_pipeline.warehouse import load, schema
from autoindex_pipeline.warehouse.corporate_actions import upsert_corporate_actions
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.revisions import read_index_values_as_published
from autoindex_pipeline_tests.conftest import write_config
from autoindex_pipeline_tests.integration.sample_history import store_sample_history

SYMBOLS = ["AAPL", "MSFT", "XOM", "GLD", "QQQ", "KO", "MMM"]
START, END = pd.Timestamp("2024-10-01"), pd.Timestamp("2025-02-28")
T0 = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)  # events and shares first recorded
T1 = dt.datetime(2025, 3, 2, 12, 0, tzinfo=dt.UTC)  # the prices delivered
T2 = dt.datetime(2025, 3, 3, 12, 0, tzinfo=dt.UTC)  # the corrections
CORRECTED = ("AAPL", pd.Timestamp("2025-01-15"))

RESULT_COLUMNS = ("level", "daily_return", "turnover", "cost", "benchmark_level", "benchmark_return",
                  "price_level", "price_daily_return", "price_turnover", "price_cost")


@pytest.fixture
def setup(warehouse_url, tmp_path):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    config = load_config(write_config(tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": SYMBOLS}))
    prices = store_sample_history(engine, config, START, END, known_at=T0, prices_at=T1)
    return engine, config, prices


def _index(engine) -> pd.DataFrame:
    table = schema.index_values
    with engine.connect() as conn:
        frame = pd.read_sql(sa.select(table).order_by(table.c.strategy, table.c.date), conn)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _allocations(engine) -> pd.DataFrame:
    table = schema.allocations
    with engine.connect() as conn:
        return pd.read_sql(sa.select(table.c.strategy, table.c.date, table.c.symbol, table.c.weight)
                           .order_by(table.c.strategy, table.c.date, table.c.symbol), conn)


def _update_all(engine, config, as_of=None) -> list[str]:
    return [update_strategy(engine, config, name, as_of=as_of).mode for name in config.strategies]


LATE_INPUTS = ("close", "dividend", "shares")
# An ordinary update after a change inside the history (services/index.py): in full, or from the
# last stored rebalance before the change.
RECOMPUTED = ("full (inputs changed", "restart at")


def _correct(engine, config, prices, which=LATE_INPUTS):
    """At T2: a corrected close, a dividend learnt late and a revised shares figure."""
    if "close" in which:
        symbol, day = CORRECTED
        row = prices[(prices["symbol"] == symbol) & (prices["date"] == day)].copy()
        row["close"] = row["close"] * 1.08
        load.replace_prices(engine, row, [symbol], day.date(), day.date(), ingested_at=T2)
    if "dividend" in which:
        upsert_corporate_actions(engine, pd.DataFrame({
            "symbol": ["MSFT"], "ex_date": [pd.Timestamp("2024-12-16")], "kind": [ca.DIVIDEND], "ratio": [None],
            "amount": [4.0], "currency": ["USD"], "source": ["late"]}), now=T2)
    if "shares" in which:
        # A figure for a new date (between the sample's 2024-11-01 and 2025-02-03 reports): a
        # revised figure of a stored date replaces it, so that one is not replayable (methodology).
        shares = pd.DataFrame({"symbol": ["XOM"], "date": [pd.Timestamp("2025-01-02")], "shares_outstanding": [1.0e3],
                               "source": ["late"]})
        load.upsert_shares(engine, shares, ingested_at=T2)


def _same_bits(a: pd.DataFrame, b: pd.DataFrame, columns) -> None:
    assert a["date"].tolist() == b["date"].tolist() and a["strategy"].tolist() == b["strategy"].tolist()
    for column in columns:
        left, right = a[column].to_numpy(), b[column].to_numpy()
        both_nan = pd.isna(left) & pd.isna(right)
        # Exact equality of the floats: an as-of run is the same arithmetic on the same inputs.
        assert ((left == right) | both_nan).all(), column


def test_as_of_before_a_correction_reproduces_the_first_index_bit_for_bit(setup):
    engine, config, prices = setup
    assert set(_update_all(engine, config)) == {"full"}
    first, first_weights = _index(engine), _allocations(engine)
    assert set(first["data_as_of"].map(lambda t: pd.Timestamp(t, tz="UTC") if pd.Timestamp(t).tzinfo is None
                                       else pd.Timestamp(t).tz_convert("UTC"))) == {pd.Timestamp(T1)}

    _correct(engine, config, prices)
    modes = _update_all(engine, config)
    assert all(mode.startswith(RECOMPUTED) for mode in modes), modes
    latest = _index(engine)
    # Point in time: each correction changes the latest publication, so an as-of run that used
    # any of them would not reproduce the first one below.
    assert not (latest["level"].to_numpy() == first["level"].to_numpy()).all()

    as_of = T1 + dt.timedelta(hours=1)
    modes = _update_all(engine, config, as_of=as_of)
    assert set(modes) == {f"full (data as of {as_of.isoformat()})"}
    replayed = _index(engine)
    _same_bits(replayed, first, RESULT_COLUMNS)
    pd.testing.assert_frame_equal(_allocations(engine), first_weights, check_exact=True)
    stamps = pd.to_datetime(replayed["data_as_of"], utc=True)
    assert set(stamps) == {pd.Timestamp(as_of)}

    # Back to the latest data: the next ordinary update sees everything recorded after the
    # as-of moment as a change and publishes the latest values again.
    assert all(mode.startswith(RECOMPUTED) for mode in _update_all(engine, config))
    _same_bits(_index(engine), latest, RESULT_COLUMNS)


@pytest.mark.parametrize("late", LATE_INPUTS)
def test_each_input_recorded_after_the_as_of_moment_is_unknown_then(setup, late):
    """Each late input alone moves the latest index, and the as-of replay does not see it: the
    bit-for-bit test above would fail if any one of them leaked into an as-of read."""
    engine, config, prices = setup
    _update_all(engine, config)
    first = _index(engine)
    _correct(engine, config, prices, which=(late,))
    # As of just after it (a full recompute whatever the ordinary update would redo): it is used.
    _update_all(engine, config, as_of=T2)
    assert not (_index(engine)["level"].to_numpy() == first["level"].to_numpy()).all(), late
    _update_all(engine, config, as_of=T2 - dt.timedelta(microseconds=1))
    _same_bits(_index(engine), first, RESULT_COLUMNS)


def test_every_replaced_publication_is_exported_as_it_was_published(setup):
    engine, config, prices = setup
    _update_all(engine, config)
    first = _index(engine)
    published_first = pd.to_datetime(first["computed_at"], utc=True).max()
    _correct(engine, config, prices)
    _update_all(engine, config)
    second = _index(engine)
    published_second = pd.to_datetime(second["computed_at"], utc=True).max()

    def as_published(moment):
        frame = read_index_values_as_published(engine, moment.to_pydatetime())
        frame["date"] = pd.to_datetime(frame["date"])
        return frame

    _same_bits(as_published(published_first), first, RESULT_COLUMNS)
    _same_bits(as_published(published_second), second, RESULT_COLUMNS)
    assert as_published(published_first - pd.Timedelta(microseconds=1)).empty
    # The archive holds exactly the first publication's rows the second one replaced (all of them
    # after a full recompute, those after the restart's rebalance otherwise), as they were.
    with engine.connect() as conn:
        archived = pd.read_sql(sa.select(schema.index_value_revisions).order_by(schema.index_value_revisions.c.date), conn)
    archived["date"] = pd.to_datetime(archived["date"])
    assert 0 < len(archived) <= len(first)
    _same_bits(archived, first.tail(len(archived)).reset_index(drop=True), RESULT_COLUMNS)
    assert (pd.to_datetime(archived["superseded_at"], utc=True) == published_second).all()


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_cli_run_as_of_and_export_as_of(setup, tmp_path, monkeypatch, warehouse_url):
    """``autoindex run --as-of`` is the index job with index_assets' as_of run config;
    ``export index_values --as-of`` the earlier publication."""
    engine, config, prices = setup
    path = str(write_config(tmp_path, prices={"start_date": str(START.date())}, universe={"symbols": SYMBOLS}))
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, warehouse_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    create_warehouse_engine.cache_clear()
    _update_all(engine, config)
    first = _index(engine)
    _correct(engine, config, prices)
    _update_all(engine, config)

    runner = CliRunner()
    result = runner.invoke(main, ["run", "--config", path, "--as-of", (T1 + dt.timedelta(hours=1)).isoformat()],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "as of 2025-03-02T13:00:00+00:00" in result.output
    _same_bits(_index(engine), first, RESULT_COLUMNS)

    out = tmp_path / "published.csv"
    moment = pd.to_datetime(first["computed_at"], utc=True).max().isoformat()
    result = runner.invoke(main, ["export", "index_values", "--config", path, "--as-of", moment, "--output", str(out)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, parse_dates=["date"])
    _same_bits(exported, first, ("level", "price_level"))
    result = runner.invoke(main, ["export", "index_values", "--config", path, "--as-of", moment, "--strategy", "default",
                                  "--output", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(out, parse_dates=["date"])
    _same_bits(exported, first[first["strategy"] == "default"].reset_index(drop=True), ("level", "price_level"))
    wrong = runner.invoke(main, ["export", "allocations", "--config", path, "--as-of", moment])
    assert wrong.exit_code != 0 and "--as-of applies to index_values" in wrong.output

    bad = runner.invoke(main, ["run", "--config", path, "--as-of", "yesterday-ish"])
    assert bad.exit_code != 0 and "--as-of 'yesterday-ish' is not a timestamp" in bad.output
    mixed = runner.invoke(main, ["run", "--config", path, "--as-of", "2025-03-02", "--start", "2025-01-02"])
    assert mixed.exit_code != 0 and "takes no --start" in mixed.output

"""The warehouse layer on the real backends: migrations, idempotent bulk writes, killed writes."""

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from autoindex_pipeline.warehouse import load, read, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import current_revision, head_revision, upgrade


def _prices(symbols, start, periods, seed=0, close_offset=0.0):
    dates = pd.bdate_range(start, periods=periods)
    frame = pd.MultiIndex.from_product([symbols, dates], names=["symbol", "date"]).to_frame(index=False)
    rng = np.random.default_rng(seed)
    close = 50 + rng.random(len(frame)) * 10 + close_offset
    frame["open"], frame["close"] = close, close
    frame["high"], frame["low"] = close + 1, close - 1
    frame["volume"] = 1e6
    frame["source"] = "test"
    return frame


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


def test_migrations_build_exactly_the_schema_and_rerun_as_no_op(engine):
    assert current_revision(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        # The full-text search objects are per backend and outside the metadata (schema.SEARCH_OBJECTS).
        opts = {"compare_type": True, "include_name": lambda name, *_: not schema.is_search_object(name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), schema.metadata)
    assert diff == []


def test_allocation_sleeves_migration_copies_the_stored_contributions(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    assert upgrade(engine, "0005") == "0005"
    now = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    rows = [
        {"strategy": "default", "version": "v1", "date": dt.date(2025, 1, 2), "symbol": s, "weight": w,
         "momentum_weight": m, "market_cap_weight": c, "risk_parity_weight": r, "computed_at": now}
        for s, w, m, c, r in (("AAA", 0.6, 0.3, 0.2, 0.1), ("BBB", 0.4, 0.1, 0.1, 0.2))
    ]
    with engine.begin() as conn:
        conn.execute(schema.allocations.insert(), rows)
    assert upgrade(engine) == head_revision()
    copied = read.read_table(engine, "allocation_sleeves").sort_values(["symbol", "sleeve"], ignore_index=True)
    assert list(zip(copied["symbol"], copied["sleeve"], copied["contribution"], strict=True)) == [
        ("AAA", "market_cap", 0.2), ("AAA", "momentum", 0.3), ("AAA", "risk_parity", 0.1),
        ("BBB", "market_cap", 0.1), ("BBB", "momentum", 0.1), ("BBB", "risk_parity", 0.2),
    ]
    assert copied["sleeve_weight"].isna().all() and copied["signal"].isna().all()  # never stored before
    assert (copied["strategy"] == "default").all() and (copied["version"] == "v1").all()


def test_rewriting_a_range_replaces_rows_instead_of_duplicating(engine):
    frame = _prices(["AAA", "BBB"], "2024-01-01", 10)
    first = load.replace_prices(engine, frame, ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    again = load.replace_prices(engine, _prices(["AAA", "BBB"], "2024-01-01", 10, close_offset=100), ["AAA", "BBB"],
                                dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    stored = read.read_prices(engine)
    assert (first.rows_written, again.rows_deleted, again.rows_written, len(stored)) == (20, 20, 20, 20)
    assert stored["close"].min() > 100  # the second write won


def test_a_write_touches_only_its_symbols_and_dates(engine):
    load.replace_prices(engine, _prices(["AAA", "BBB"], "2024-01-01", 10), ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    # BBB "failed" in this refresh: it is not in scope, so its rows survive.
    later = _prices(["AAA"], "2024-01-08", 3, close_offset=100)
    load.replace_prices(engine, later, ["AAA"], dt.date(2024, 1, 8), dt.date(2024, 1, 10))
    stored = read.read_prices(engine)
    assert len(stored) == 20
    aaa = stored[stored["symbol"] == "AAA"].set_index("date")["close"]
    assert (aaa.loc["2024-01-08":"2024-01-10"] > 100).all()
    assert (aaa.drop(aaa.loc["2024-01-08":"2024-01-10"].index) < 100).all()
    assert (stored[stored["symbol"] == "BBB"]["close"] < 100).all()


def test_rows_outside_the_scope_or_duplicated_are_refused(engine):
    frame = _prices(["AAA"], "2024-01-01", 5)
    with pytest.raises(ValueError, match="outside the write scope"):
        load.replace_prices(engine, frame, ["AAA"], dt.date(2024, 1, 1), dt.date(2024, 1, 3))
    with pytest.raises(ValueError, match="share a primary key"):
        load.replace_prices(engine, pd.concat([frame, frame]), ["AAA"], dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert len(read.read_prices(engine)) == 0


def test_nan_values_are_stored_as_null(engine):
    frame = _prices(["AAA"], "2024-01-01", 3)
    frame.loc[1, "close"] = np.nan
    load.replace_prices(engine, frame, ["AAA"], dt.date(2024, 1, 1), dt.date(2024, 1, 3))
    with engine.connect() as conn:
        nulls = conn.execute(sa.text("SELECT count(*) FROM prices WHERE close IS NULL")).scalar_one()
    assert nulls == 1


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time, datetime as dt
    import numpy as np, pandas as pd
    from autoindex_pipeline.warehouse import load
    from autoindex_pipeline.warehouse.engine import create_warehouse_engine

    original_insert = load._insert_staged

    def insert_then_hang(conn, staging):
        original_insert(conn, staging)  # the old rows are deleted and new ones inserted, uncommitted
        print("WRITING", flush=True)
        time.sleep(120)

    load._insert_staged = insert_then_hang
    dates = pd.bdate_range("2024-01-01", periods=10)
    frame = pd.MultiIndex.from_product([["AAA", "BBB"], dates], names=["symbol", "date"]).to_frame(index=False)
    for col in ("open", "high", "low", "close"):
        frame[col] = 999.0
    frame["volume"] = 1.0
    frame["source"] = "killed"
    load.replace_prices(create_warehouse_engine(sys.argv[1]), frame, ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    """
)


def test_a_run_killed_mid_write_leaves_the_previous_rows(engine, warehouse_url, tmp_path):
    load.replace_prices(engine, _prices(["AAA", "BBB"], "2024-01-01", 10), ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    before = read.read_prices(engine)
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    proc = subprocess.Popen([sys.executable, str(script), warehouse_url], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "WRITING"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # No wait needed: a reader never sees another transaction's uncommitted rows.
    after = read.read_prices(engine)
    pd.testing.assert_frame_equal(before, after)
    assert set(after["source"]) == {"test"}
    # And the dead writer's transaction was rolled back, not left holding its locks: the same
    # scope can be written again (it would wait on the killed writer's row locks otherwise).
    load.replace_prices(engine, _prices(["AAA", "BBB"], "2024-01-01", 10), ["AAA", "BBB"], dt.date(2024, 1, 1), dt.date(2024, 1, 12))
    pd.testing.assert_frame_equal(before.drop(columns="ingested_at"), read.read_prices(engine).drop(columns="ingested_at"))


def test_shares_upsert_keeps_history_and_updates_in_place(engine):
    first = pd.DataFrame({"symbol": ["AAA", "AAA"], "date": pd.to_datetime(["2024-01-02", "2024-04-01"]),
                          "shares_outstanding": [100.0, 110.0], "source": "test"})
    load.upsert_shares(engine, first)
    # A provider that only knows today's figure adds a row and corrects one, deleting nothing.
    later = pd.DataFrame({"symbol": ["AAA", "AAA"], "date": pd.to_datetime(["2024-04-01", "2024-07-01"]),
                          "shares_outstanding": [111.0, 120.0], "source": "test"})
    load.upsert_shares(engine, later)
    stored = read.read_shares(engine)
    assert stored["shares_outstanding"].tolist() == [100.0, 111.0, 120.0]
    assert read.read_shares(engine, end="2024-05-01")["shares_outstanding"].tolist() == [100.0, 111.0]


def test_assets_sync_flags_leavers_without_deleting(engine):
    universe = pd.DataFrame({"symbol": ["AAA", "SPY"], "name": ["A", "S"], "asset_class": ["equity", "etf"],
                             "sector": ["Tech", "Broad"], "is_benchmark": [False, True]})
    load.sync_assets(engine, universe)
    result = load.sync_assets(engine, universe[universe["symbol"] == "SPY"])
    stored = read.read_assets(engine).set_index("symbol")
    assert result.rows_deleted == 1
    assert bool(stored.loc["AAA", "in_universe"]) is False and bool(stored.loc["SPY", "is_benchmark"]) is True


def test_shares_upsert_skips_unchanged_rows(engine):
    frame = pd.DataFrame({"symbol": ["AAA", "BBB"], "date": pd.to_datetime(["2024-01-02", "2024-01-02"]),
                          "shares_outstanding": [100.0, 200.0], "source": "test"})
    assert load.upsert_shares(engine, frame).rows_written == 2
    assert load.upsert_shares(engine, frame).rows_written == 0
    frame.loc[1, "shares_outstanding"] = 201.0
    assert load.upsert_shares(engine, frame).rows_written == 1
    assert read.read_shares(engine)["shares_outstanding"].tolist() == [100.0, 201.0]

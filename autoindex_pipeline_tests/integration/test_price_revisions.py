"""Bitemporal prices on both backends: every value a price had stays readable as of the moment
it was recorded (``warehouse/revisions.py``, written by ``load.replace_prices``)."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from autoindex_pipeline.warehouse import load, read, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.revisions import newest_session_as_of, read_price_revisions

T1 = dt.datetime(2024, 2, 1, 22, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2024, 2, 2, 22, 0, tzinfo=dt.UTC)
T3 = dt.datetime(2024, 2, 3, 22, 0, tzinfo=dt.UTC)
START, END = dt.date(2024, 1, 1), dt.date(2024, 1, 12)


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


def _prices(symbols=("AAA", "BBB"), periods=10):
    dates = pd.bdate_range(START, periods=periods)
    frame = pd.MultiIndex.from_product([list(symbols), dates], names=["symbol", "date"]).to_frame(index=False)
    close = 50 + np.arange(len(frame), dtype=float) / 8
    frame["open"], frame["close"] = close, close
    frame["high"], frame["low"] = close + 1, close - 1
    frame["volume"] = 1e6
    frame["source"] = "test"
    return frame


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.price_revisions)).scalar_one()


def _close(frame: pd.DataFrame, symbol: str, date: str) -> float:
    return frame.loc[(frame["symbol"] == symbol) & (frame["date"] == pd.Timestamp(date)), "close"].item()


def test_a_correction_adds_a_revision_and_keeps_the_old_value_readable_as_of_before_it(engine):
    first = _prices()
    written = load.replace_prices(engine, first, ["AAA", "BBB"], START, END, ingested_at=T1)
    assert written.revisions == len(first) == _count(engine)
    corrected = first.copy()
    corrected.loc[(corrected["symbol"] == "AAA") & (corrected["date"] == "2024-01-03"), "close"] = 77.0
    assert load.replace_prices(engine, corrected, ["AAA", "BBB"], START, END, ingested_at=T2).revisions == 1
    assert _count(engine) == len(first) + 1

    before = read.read_closes(engine, as_of=T1 + dt.timedelta(hours=1))
    after = read.read_closes(engine, as_of=T2)
    assert _close(before, "AAA", "2024-01-03") == _close(first, "AAA", "2024-01-03")
    assert _close(after, "AAA", "2024-01-03") == 77.0
    # The current view and an as-of read at the newest moment agree exactly.
    pd.testing.assert_frame_equal(after, read.read_closes(engine))
    # Nothing was known before the first delivery.
    assert read.read_closes(engine, as_of=T1 - dt.timedelta(seconds=1)).empty
    assert newest_session_as_of(engine, T1 - dt.timedelta(seconds=1)) is None
    assert newest_session_as_of(engine, T1) == pd.Timestamp("2024-01-12")


def test_an_unchanged_rerun_adds_no_revision(engine):
    load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T1)
    before = read_price_revisions(engine)
    assert load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T2).revisions == 0
    pd.testing.assert_frame_equal(before, read_price_revisions(engine))


def test_a_removed_row_is_a_withdrawal_unknown_as_of_after_it(engine):
    load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T1)
    fewer = _prices()
    fewer = fewer[~((fewer["symbol"] == "BBB") & (fewer["date"] == "2024-01-05"))]
    assert load.replace_prices(engine, fewer, ["AAA", "BBB"], START, END, ingested_at=T2).revisions == 1
    revisions = read_price_revisions(engine, ["BBB"])
    last = revisions[revisions["date"] == pd.Timestamp("2024-01-05")].iloc[-1]
    assert bool(last["withdrawn"]) and pd.isna(last["close"]) and last["recorded_at"] == pd.Timestamp(T2)
    at_t1, at_t2 = read.read_closes(engine, ["BBB"], as_of=T1), read.read_closes(engine, ["BBB"], as_of=T2)
    assert pd.Timestamp("2024-01-05") in set(at_t1["date"])
    assert pd.Timestamp("2024-01-05") not in set(at_t2["date"])
    # Delivered again later: a new revision, known again from then on.
    assert load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T3).revisions == 1
    assert pd.Timestamp("2024-01-05") in set(read.read_closes(engine, ["BBB"], as_of=T3)["date"])


def test_a_refused_delivery_adds_no_revision(engine):
    load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T1)
    before = read_price_revisions(engine)
    refused = [("AAA", dt.date(2024, 1, 3)), ("BBB", dt.date(2024, 1, 4))]
    # The prices asset leaves the refused rows out of the frame and keeps the stored ones.
    delivered = _prices()
    delivered = delivered[~delivered[["symbol", "date"]].apply(lambda r: (r["symbol"], r["date"].date()) in refused, axis=1)]
    assert load.replace_prices(engine, delivered, ["AAA", "BBB"], START, END, ingested_at=T2, keep=refused).revisions == 0
    pd.testing.assert_frame_equal(before, read_price_revisions(engine))


def test_a_write_that_raises_leaves_the_revisions_as_they_were(engine):
    load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T1)
    before = read_price_revisions(engine)
    corrected = _prices()
    corrected["close"] += 1.0

    def fail(conn):
        raise RuntimeError("killed after the write")

    with pytest.raises(RuntimeError, match="killed"):
        load.replace_prices(engine, corrected, ["AAA", "BBB"], START, END, ingested_at=T2, in_transaction=fail)
    pd.testing.assert_frame_equal(before, read_price_revisions(engine))
    # And the staging table went with the transaction: the next write works.
    assert load.replace_prices(engine, corrected, ["AAA", "BBB"], START, END, ingested_at=T2).revisions == len(corrected)


def test_the_migration_backfills_the_stored_prices_as_revisions_at_their_ingestion(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine, "0013")
    load_rows = _prices(("AAA",), 3).assign(adj_close=np.nan, ingested_at=T1)
    with engine.begin() as conn:
        conn.execute(schema.prices.insert(), [
            {**row, "date": row["date"].date()} for row in load_rows.to_dict("records")
        ])
    upgrade(engine)
    revisions = read_price_revisions(engine)
    assert len(revisions) == 3 and not revisions["withdrawn"].any()
    assert set(revisions["recorded_at"]) == {pd.Timestamp(T1)}
    pd.testing.assert_frame_equal(read.read_closes(engine, as_of=T1), read.read_closes(engine))


def test_an_accepted_refused_row_promoted_into_prices_is_a_revision(engine):
    from autoindex_pipeline.warehouse.gate import record_refusals
    from autoindex_pipeline.warehouse.overrides import set_override

    load.replace_prices(engine, _prices(), ["AAA", "BBB"], START, END, ingested_at=T1)
    stored = _close(read.read_closes(engine), "AAA", "2024-01-03")
    refused = pd.DataFrame({"symbol": ["AAA"], "date": [pd.Timestamp("2024-01-03")], "open": [stored * 3],
                            "high": [stored * 3], "low": [stored * 3], "close": [stored * 3], "volume": [1e6],
                            "source": ["test"], "checks": ["return_cap"], "reason": ["x3"], "replaced_nothing": [False]})
    with engine.begin() as conn:
        record_refusals(conn, refused, pd.DataFrame(), run_id="run-1")
    effect = set_override(engine, "AAA", dt.date(2024, 1, 3), "accept", "a genuine move, confirmed", "tester")
    assert effect.refused_row_promoted
    assert _count(engine) == 21
    # The current view and the newest as-of read agree; before the promotion the old value stands.
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    pd.testing.assert_frame_equal(read.read_closes(engine, as_of=now), read.read_closes(engine))
    assert _close(read.read_closes(engine, as_of=now), "AAA", "2024-01-03") == stored * 3
    assert _close(read.read_closes(engine, as_of=T1), "AAA", "2024-01-03") == stored

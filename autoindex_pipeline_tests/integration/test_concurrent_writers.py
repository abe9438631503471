"""Two writers of the same rows at once (two overlapping `autoindex run`): the second waits for
the first to commit and then replaces its rows; neither dies on the primary key (issue 17 #4).

The first writer is held open by hand, mid-transaction, with rows inserted but not committed:
exactly the moment at which an unserialised second writer's DELETE misses those rows and its
INSERT collides with them."""

import datetime as dt
import threading

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import load, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine, is_postgres
from autoindex_pipeline.warehouse.locks import lock_key, serialize_writers
from autoindex_pipeline.warehouse.migrate import upgrade
from autoindex_pipeline.warehouse.read import read_prices

DAYS = [dt.date(2025, 3, 3), dt.date(2025, 3, 4)]


def _frame(close: float) -> pd.DataFrame:
    return pd.DataFrame({
        "symbol": ["AAPL"] * 2, "date": pd.to_datetime(DAYS), "open": close, "high": close + 1, "low": close - 1,
        "close": close, "volume": 1000.0, "source": "test",
    })


def test_lock_key_is_stable():
    assert lock_key("prices") == lock_key("prices") != lock_key("news")
    assert -(2**63) <= lock_key("prices") < 2**63


def test_second_writer_waits_for_the_first_and_replaces_its_rows(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        try:
            outcome["result"] = load.replace_prices(engine, _frame(200.0), ["AAPL"], DAYS[0], DAYS[1])
        except Exception as exc:  # the test asserts there is none
            outcome["error"] = exc

    first = engine.connect()
    tx = first.begin()
    serialize_writers(first, "prices")
    rows = load._price_rows(_frame(100.0), "2025-03-04 22:00:00.000000" + ("+00:00" if is_postgres(engine) else ""))
    first.execute(schema.prices.insert(), [{**r, "ingested_at": dt.datetime(2025, 3, 4, 22, tzinfo=dt.UTC),
                                           "date": dt.date.fromisoformat(r["date"])} for r in rows.to_dict("records")])
    thread = threading.Thread(target=second_writer)
    thread.start()
    queued_on = set()
    if is_postgres(engine):
        # Wait (bounded) until the second writer is blocked behind the first one.
        pause = threading.Event()
        for _ in range(200):
            with engine.connect() as probe:
                queued_on = set(probe.execute(sa.text("SELECT locktype FROM pg_locks WHERE NOT granted")).scalars())
            if queued_on or not thread.is_alive():
                break
            pause.wait(0.05)
    tx.commit()
    first.close()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert "error" not in outcome, outcome.get("error")
    if is_postgres(engine):
        assert queued_on == {"advisory"}  # it waited for the lock, not on a row of the index
    stored = read_prices(engine, symbols=["AAPL"])
    assert stored["close"].tolist() == [200.0, 200.0]  # the later writer's rows, once each
    assert outcome["result"].rows_deleted == 2


def test_two_index_writers_take_turns(warehouse_url):
    """The index step of two overlapping runs (allocations_pkey / index_values_pkey before)."""
    from autoindex_pipeline.warehouse.strategy import write_strategy_update

    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    day = dt.date(2025, 3, 3)
    row = {"strategy": "default", "version": "v1", "date": day, "level": 100.0, "daily_return": None, "turnover": None,
           "cost": 0.0, "is_rebalance": True, "benchmark_level": 100.0, "benchmark_return": None,
           "computed_at": dt.datetime(2025, 3, 3, 22, tzinfo=dt.UTC)}
    index_rows = pd.DataFrame([{k: row[k] for k in ("date", "level", "daily_return", "turnover", "cost", "is_rebalance",
                                                    "benchmark_level", "benchmark_return")}]).assign(date=pd.Timestamp(day))
    empty = pd.DataFrame()
    outcome: dict[str, object] = {}

    def second_writer() -> None:
        try:
            write_strategy_update(engine, "default", "v1", True, empty, empty, index_rows, empty,
                                  {"date": "2025-03-03", "level": 100.0, "holdings": {"AAPL": 1.0}}, 100.0, None)
        except Exception as exc:  # the test asserts there is none
            outcome["error"] = exc

    first = engine.connect()
    tx = first.begin()
    serialize_writers(first, "index")
    first.execute(schema.index_values.insert().values(**row))
    thread = threading.Thread(target=second_writer)
    thread.start()
    if is_postgres(engine):
        pause = threading.Event()
        for _ in range(200):
            with engine.connect() as probe:
                if probe.execute(sa.text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar() or not thread.is_alive():
                    break
            pause.wait(0.05)
    tx.commit()
    first.close()
    thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM index_values")).scalar() == 1

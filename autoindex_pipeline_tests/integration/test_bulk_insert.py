"""warehouse.load.insert_frame (COPY on PostgreSQL, executemany on SQLite) stores exactly what
SQLAlchemy's own insert stores, on both backends: dates, UTC timestamps, booleans, integers,
NULLs for NaN."""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.load import insert_frame
from autoindex_pipeline.warehouse.migrate import upgrade

NOW = dt.datetime(2026, 3, 2, 21, 5, 7, 123456, tzinfo=dt.UTC)


def _rows(strategy: str) -> dict[str, pd.DataFrame]:
    dates = [dt.date(2025, 1, 2), dt.date(2025, 1, 3), dt.date(2025, 1, 6)]
    keys = {"strategy": strategy, "version": "v1", "computed_at": NOW}
    index = pd.DataFrame({"date": dates, "level": [100.0, 101.25, 99.5], "daily_return": [np.nan, 0.0125, -0.017284],
                          "turnover": [1.0, np.nan, 0.0], "is_rebalance": [True, False, False],
                          "benchmark_level": [100.0, 100.5, np.nan], **keys})
    risk = pd.DataFrame({"date": dates, "n_returns": [0, 1, 2], "sharpe": [np.nan, np.nan, 1.5],
                         "max_drawdown": [0.0, 0.0, -0.0172], **keys})
    sleeves = pd.DataFrame({"date": dates[:2], "symbol": ["AAPL", "MSFT"], "sleeve": ["momentum", "risk_parity"],
                            "contribution": [0.5, 0.25], "sleeve_weight": [np.nan, 0.4], "signal": [1.2, np.nan], **keys})
    return {"index_values": index, "risk_metrics": risk, "allocation_sleeves": sleeves}


def _read(engine, table: str, strategy: str) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text(f"SELECT * FROM {table} WHERE strategy = :s ORDER BY date"), conn, params={"s": strategy})
    return frame.drop(columns="strategy").reset_index(drop=True)


def test_insert_frame_stores_what_sqlalchemy_stores(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    with engine.begin() as conn:
        for name, frame in _rows("bulk").items():
            assert insert_frame(conn, schema.metadata.tables[name], frame) == len(frame)
        for name, frame in _rows("orm").items():
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            conn.execute(schema.metadata.tables[name].insert(), records)
    for name in _rows("x"):
        bulk, orm = _read(engine, name, "bulk"), _read(engine, name, "orm")
        pd.testing.assert_frame_equal(bulk, orm)
    stored = _read(engine, "index_values", "bulk")
    assert stored["daily_return"].isna().tolist() == [True, False, False]  # NaN is NULL
    assert [bool(v) for v in stored["is_rebalance"]] == [True, False, False]
    with engine.connect() as conn:
        computed = conn.execute(sa.select(schema.index_values.c.computed_at).where(
            schema.index_values.c.strategy == "bulk")).scalars().first()
    assert computed.replace(tzinfo=None) == NOW.replace(tzinfo=None)

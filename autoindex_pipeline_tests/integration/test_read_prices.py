"""warehouse.read.read_prices: on PostgreSQL by COPY into pyarrow (issue 14, memory: a year of
3,000 symbols through pd.read_sql's row objects held ~730 MiB); the same frame, value for value
and dtype for dtype, as the rows read through pd.read_sql."""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.warehouse import load, read, schema
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade


def _through_read_sql(engine, symbols=None, start=None, end=None) -> pd.DataFrame:
    table = schema.prices
    stmt = read._where_range(table, sa.select(table), symbols, start, end).order_by(table.c.symbol, table.c.date)
    with engine.connect() as conn:
        frame = pd.read_sql(stmt, conn)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for col in ("open", "high", "low", "close", "volume", "adj_close"):
        frame[col] = frame[col].astype("float64")
    return frame


def test_read_prices_is_the_frame_read_sql_gives(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2025-01-01", periods=30)
    symbols = ["AAPL", "B", "b", "BRK.B", "Z9"]
    frame = pd.MultiIndex.from_product([symbols, dates], names=["symbol", "date"]).to_frame(index=False)
    for col in ("open", "high", "low", "close"):
        frame[col] = rng.random(len(frame)) * 10.0 ** rng.integers(-4, 6, len(frame))
    frame["volume"] = np.round(rng.random(len(frame)) * 1e9)
    frame.loc[::7, "open"] = np.nan  # NULL values
    frame.loc[3, "close"] = 0.1 + 0.2  # a float that needs all 17 digits
    frame.loc[4, "close"] = 1e-300
    frame["source"] = "sample"
    frame.loc[frame["symbol"] == "B", "source"] = 'a "quoted", one'
    frame.loc[frame["symbol"] == "b", "source"] = "é,x"
    load.replace_prices(engine, frame, symbols, dates[0].date(), dates[-1].date())

    for kwargs in ({}, {"symbols": ["b", "B"], "start": dates[3].date(), "end": dates[9].date()},
                   {"start": dt.date(2030, 1, 1)}):
        got, want = read.read_prices(engine, **kwargs), _through_read_sql(engine, **kwargs)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        for col in ("open", "close", "volume"):
            np.testing.assert_array_equal(got[col].to_numpy().view("i8"), want[col].to_numpy().view("i8"))
    assert len(read.read_prices(engine)) == len(frame)
    assert read.read_prices(engine)["ingested_at"].dt.microsecond.nunique() >= 1

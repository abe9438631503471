"""warehouse.corporate_actions.read_corporate_actions: on PostgreSQL by COPY into pyarrow (issue
14: ~300k events for 3,000 symbols, read several times a run); the same frame, value for value
and dtype for dtype, as the rows read through pd.read_sql, NULLs and awkward text included."""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.domain import corporate_actions as ca
from autoindex_pipeline.warehouse import schema
from autoindex_pipeline.warehouse.corporate_actions import read_corporate_actions, upsert_corporate_actions
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade


def _through_read_sql(engine, symbols=None, as_of=None) -> pd.DataFrame:
    table = schema.corporate_actions
    stmt = sa.select(*(table.c[c] for c in ca.EVENT_COLUMNS)).order_by(table.c.symbol, table.c.ex_date, table.c.kind)
    if symbols is not None:
        stmt = stmt.where(table.c.symbol.in_(list(symbols)))
    with engine.connect() as conn:
        return ca.known_as_of(ca.normalise_events(pd.read_sql(stmt, conn)), as_of)


def test_read_corporate_actions_is_the_frame_read_sql_gives(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    rng = np.random.default_rng(4)
    # Tickers pyarrow would read as NULL by default, a comma, a quote; currencies NULL and ''.
    symbols = ["NA", "NULL", "nan", "BRK.B", 'A,"B', "Z9"]
    rows = []
    for i, symbol in enumerate(symbols):
        for q in range(8):
            day = dt.date(2020, 1, 2) + dt.timedelta(days=91 * q + i)
            rows.append((symbol, day, "dividend", np.nan, float(rng.random() * 10.0 ** rng.integers(-3, 2)),
                         [None, "USD", "", "N/A"][q % 4]))
        rows.append((symbol, dt.date(2021, 6, 1), "split", [2.0, 0.1 + 0.2, 1 / 3, 4.0, 1e-9, 7.0][i], np.nan, None))
    events = pd.DataFrame(rows, columns=["symbol", "ex_date", "kind", "ratio", "amount", "currency"]).assign(source="test")
    first = dt.datetime(2026, 3, 1, 14, 30, 15, 123456, tzinfo=dt.UTC)
    upsert_corporate_actions(engine, events.iloc[::2], now=first)
    upsert_corporate_actions(engine, events, now=first + dt.timedelta(days=1, microseconds=1))

    for symbols_, as_of in [(None, None), (["NA", 'A,"B'], None), (None, first), (["nan"], first + dt.timedelta(days=2))]:
        got = read_corporate_actions(engine, symbols=symbols_, as_of=as_of)
        want = _through_read_sql(engine, symbols=symbols_, as_of=as_of)
        assert len(got) > 0
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    got = read_corporate_actions(engine)
    assert set(got["symbol"]) == set(symbols)
    assert got["currency"].isna().sum() == events["currency"].isna().sum()
    assert (got["currency"] == "").sum() == (events["currency"] == "").sum()
    assert got["first_seen"].min() == pd.Timestamp(first)
    assert read_corporate_actions(engine, symbols=["NONE"]).empty

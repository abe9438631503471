"""The corporate_actions table on both backends: idempotent upsert, corrections, as-of reads."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.domain.corporate_actions import CorporateActionError
from autoindex_pipeline.warehouse.corporate_actions import (
    earliest_ex_date_seen_after,
    read_corporate_actions,
    upsert_corporate_actions,
)
from autoindex_pipeline.warehouse.engine import create_warehouse_engine
from autoindex_pipeline.warehouse.migrate import upgrade

T0 = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
T1 = dt.datetime(2024, 6, 11, 12, tzinfo=dt.UTC)


@pytest.fixture
def engine(warehouse_url):
    engine = create_warehouse_engine(warehouse_url)
    upgrade(engine)
    return engine


def _events():
    return pd.DataFrame({
        "symbol": ["NVDA", "AAPL"], "ex_date": ["2024-06-10", "2024-05-10"], "kind": ["split", "dividend"],
        "ratio": [10.0, np.nan], "amount": [np.nan, 0.25], "currency": [None, "USD"], "source": ["sample", "sample"],
    })


def test_upsert_is_idempotent_and_a_correction_is_a_new_observation(engine):
    assert upsert_corporate_actions(engine, _events(), now=T0).inserted == 2
    again = upsert_corporate_actions(engine, _events(), now=T1)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    stored = read_corporate_actions(engine)
    assert len(stored) == 2
    assert (stored["first_seen"] == pd.Timestamp(T0)).all()
    nvda = stored[stored["symbol"] == "NVDA"].iloc[0]
    assert nvda["ratio"] == 10.0 and np.isnan(nvda["amount"]) and nvda["ex_date"] == pd.Timestamp("2024-06-10")

    corrected = _events().assign(amount=[np.nan, 0.26])
    result = upsert_corporate_actions(engine, corrected, now=T1)
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 1)
    # As of before the correction the corrected dividend is not known; afterwards it is, with its new amount.
    before = read_corporate_actions(engine, as_of=T0)
    assert before["symbol"].tolist() == ["NVDA"]
    after = read_corporate_actions(engine, symbols=["AAPL"], as_of=T1)
    assert after["amount"].tolist() == [0.26]
    assert earliest_ex_date_seen_after(engine, T0) == pd.Timestamp("2024-05-10")
    assert earliest_ex_date_seen_after(engine, T1) is None


def test_a_bad_event_is_refused_naming_row_and_column(engine):
    with pytest.raises(CorporateActionError, match="row 0, column ratio"):
        upsert_corporate_actions(engine, _events().assign(ratio=[-2.0, np.nan]))
    assert read_corporate_actions(engine).empty


def test_the_closes_of_a_range_without_rows_are_an_empty_frame(engine):
    # PostgreSQL's COPY path gave pyarrow an empty CSV and raised ("Empty CSV file"): the
    # restatement check and read_clean_returns read ranges that may hold no row yet.
    from autoindex_pipeline.warehouse.read import read_closes

    frame = read_closes(engine, symbols=["NVDA"], start="2024-01-01", end="2024-01-31")
    assert frame.empty and list(frame.columns) == ["symbol", "date", "close"]
    assert str(frame["date"].dtype) == "datetime64[ns]" and str(frame["close"].dtype) == "float64"

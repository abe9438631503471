"""The files provider's corporate_actions file: read beside the prices, filtered by symbol and
ex-date, and every error naming file, line and column."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.providers.prices.files import FilesFormatError, FilesProvider

PRICES = "symbol,date,open,high,low,close,volume\nNVDA,2024-06-07,1200,1210,1190,1208,1e6\nNVDA,2024-06-10,121,122,119,121.9,1e7\n"
EVENTS = "symbol,ex_date,kind,ratio,amount,currency\nNVDA,2024-06-10,split,10,,\nAAPL,2024-05-10,Dividend,,0.25,USD\nNVDA,2023-12-05,dividend,,0.04,USD\n"
WINDOW = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def _provider(tmp_path, events: str | None = EVENTS, name: str = "corporate_actions.csv") -> FilesProvider:
    (tmp_path / "prices.csv").write_text(PRICES)
    if events is not None:
        (tmp_path / name).write_text(events)
    return FilesProvider(tmp_path / "prices.csv")


def test_events_beside_the_prices_file_filtered_by_symbol_and_ex_date(tmp_path) -> None:
    frame = _provider(tmp_path).fetch_corporate_actions(["NVDA", "AAPL"], *WINDOW).frame
    assert frame[["symbol", "kind"]].values.tolist() == [["AAPL", "dividend"], ["NVDA", "split"]]
    assert frame["ex_date"].tolist() == [pd.Timestamp("2024-05-10"), pd.Timestamp("2024-06-10")]
    assert frame["amount"].iloc[0] == 0.25 and frame["currency"].iloc[0] == "USD"
    assert frame["ratio"].iloc[1] == 10.0 and np.isnan(frame["amount"].iloc[1]) and frame["currency"].iloc[1] is None
    assert (frame["source"] == "files").all()
    only = _provider(tmp_path).fetch_corporate_actions(["AAPL"], *WINDOW).frame
    assert only["symbol"].tolist() == ["AAPL"]


def test_parquet_works_and_no_file_means_no_event(tmp_path) -> None:
    (tmp_path / "prices.csv").write_text(PRICES)
    assert FilesProvider(tmp_path / "prices.csv").fetch_corporate_actions(["NVDA"], *WINDOW).frame.empty
    pd.DataFrame({"symbol": ["NVDA"], "ex_date": [pd.Timestamp("2024-06-10")], "kind": ["split"], "ratio": [10.0]}).to_parquet(
        tmp_path / "corporate_actions.parquet")
    frame = FilesProvider(tmp_path / "prices.csv").fetch_corporate_actions(["NVDA"], *WINDOW).frame
    assert frame["ratio"].tolist() == [10.0]


@pytest.mark.parametrize(
    ("events", "where"),
    [
        ("symbol,ex_date,kind,ratio,amount,currency\nNVDA,2024-06-10,spinoff,10,,\n", "line 2, column 'kind'"),
        ("symbol,ex_date,kind,ratio,amount,currency\nNVDA,2024-06-10,split,,,\n", "line 2, column 'ratio'"),
        ("symbol,ex_date,kind,ratio,amount,currency\nAAPL,2024-05-10,dividend,,-1,USD\n", "line 2, column 'amount'"),
        ("symbol,ex_date,kind,ratio,amount,currency\nNVDA,2024-06-10,split,ten,,\n", "line 2, column 'ratio'"),
        ("symbol,ex_date,kind,ratio,amount,currency\nNVDA,10/06/2024,split,10,,\n", "line 2, column 'ex_date'"),
        ("symbol,date,kind,ratio\nNVDA,2024-06-10,split,10\n", "line 1, column 'ex_date'"),
        ("symbol,ex_date,kind,ratio,amount,currency\nNVDA,2024-06-10,split,10,,\nNVDA,2024-06-10,split,10,,\n",
         "lines 2 and 3, columns 'symbol', 'ex_date': duplicate split for NVDA on 2024-06-10"),
    ],
)
def test_errors_name_file_line_and_column(tmp_path, events: str, where: str) -> None:
    with pytest.raises(FilesFormatError) as caught:
        _provider(tmp_path, events).fetch_corporate_actions(["NVDA", "AAPL"], *WINDOW)
    assert str(caught.value).startswith(f"{tmp_path / 'corporate_actions.csv'} {where}")

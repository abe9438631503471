"""FilesProvider: the user's CSV / Parquet files in, typed frames out, and format errors that say
exactly where the file is wrong."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import autoindex_pipeline.providers.prices.files as files_module
from autoindex_pipeline.providers.prices.base import PriceProvider, ProviderError
from autoindex_pipeline.providers.prices.files import FilesFormatError, FilesProvider

HEADER = "symbol,date,open,high,low,close,volume"
ROWS = [
    "AAPL,2025-01-02,100,102,99,101,1000",
    "AAPL,2025-01-03,101,103,100,102.5,1100",
    "AAPL,2025-01-06,102,104,101,103,1200",
    "MSFT,2025-01-02,400,405,398,402,500",
    "MSFT,2025-01-03,402,404,0,-1,",  # zero / negative / missing are data problems, not format errors
    "MSFT,2025-01-06,401,406,399,405,600",
]
SPAN = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def prices_csv(tmp_path: Path, name: str = "prices.csv") -> Path:
    return write(tmp_path / name, HEADER, *ROWS)


def format_error(path: Path, symbols: tuple[str, ...] = ("AAPL",)) -> FilesFormatError:
    with pytest.raises(FilesFormatError) as info:
        FilesProvider(path).fetch_prices(list(symbols), *SPAN)
    return info.value


# ---------------------------------------------------------------- happy paths


def test_csv_round_trip(tmp_path: Path) -> None:
    provider = FilesProvider(prices_csv(tmp_path))
    assert isinstance(provider, PriceProvider) and provider.name == "files"
    result = provider.fetch_prices(["AAPL", "MSFT"], *SPAN)
    frame = result.frame
    assert len(frame) == 6 and result.failures == {}
    assert frame.dtypes["date"] == "datetime64[ns]" and frame.dtypes["close"] == "float64"
    assert (frame["source"] == "files").all()
    msft = frame.loc[frame["symbol"] == "MSFT"].set_index("date")
    assert msft.loc["2025-01-03", "close"] == -1 and msft.loc["2025-01-03", "low"] == 0
    assert np.isnan(msft.loc["2025-01-03", "volume"])
    assert "adj_close" not in frame.columns
    assert (result.stats.calls, result.stats.succeeded) == (1, 1)


def test_filters_symbols_and_inclusive_range_and_reports_absent_symbols(tmp_path: Path) -> None:
    provider = FilesProvider(prices_csv(tmp_path))
    result = provider.fetch_prices(["AAPL", "TSLA"], dt.date(2025, 1, 3), dt.date(2025, 1, 6))
    assert result.frame["symbol"].unique().tolist() == ["AAPL"]
    assert result.frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-01-03", "2025-01-06"]
    assert result.failures == {"TSLA": "not in files"}
    # In the files but not in the range: nothing to deliver, and nothing failed.
    empty = provider.fetch_prices(["AAPL"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert empty.frame.empty and empty.failures == {}


def test_parquet_with_real_types_and_adj_close(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "Symbol": ["AAPL", "AAPL"],
            "Date": pd.to_datetime(["2025-01-02", "2025-01-03"]),
            "Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5], "Close": [1.5, 2.5],
            "Volume": [10, 20], "Adj_Close": [1.4, np.nan], "note": ["x", "y"],
        }
    )
    frame.to_parquet(tmp_path / "prices.parquet")
    result = FilesProvider(tmp_path / "prices.parquet").fetch_prices(["AAPL"], *SPAN)
    assert result.frame["close"].tolist() == [1.5, 2.5]
    assert result.frame["adj_close"].iloc[0] == 1.4 and np.isnan(result.frame["adj_close"].iloc[1])
    assert "note" not in result.frame.columns


def test_a_folder_of_csv_and_parquet_is_concatenated(tmp_path: Path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    write(folder / "aapl.csv", HEADER + ",adj_close", *(r + ",1" for r in ROWS[:3]))
    pd.read_csv(pd.io.common.StringIO("\n".join([HEADER, *ROWS[3:]]))).to_parquet(folder / "msft.parquet")
    write(folder / "README.txt", "ignored")
    frame = FilesProvider(folder).fetch_prices(["AAPL", "MSFT"], *SPAN).frame
    assert frame.groupby("symbol").size().to_dict() == {"AAPL": 3, "MSFT": 3}
    assert frame.loc[frame["symbol"] == "AAPL", "adj_close"].eq(1).all()
    assert frame.loc[frame["symbol"] == "MSFT", "adj_close"].isna().all()


def test_lenient_about_header_case_blank_lines_bom_and_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    lines = ["\ufeff Symbol ,DATE,Open,High,Low,Close,Volume", "", "AAPL , 2025-01-02T16:00:00-05:00 ,1,2,0.5,1.5,NA", "", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    frame = FilesProvider(path).fetch_prices(["AAPL"], *SPAN).frame
    assert frame["date"].tolist() == [pd.Timestamp("2025-01-02")]
    assert np.isnan(frame["volume"].iloc[0])


def test_missing_value_spellings_only_apply_to_numbers(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.csv", HEADER, "NA,2025-01-02,1,2,0.5,n/a,NULL", "NAN,2025-01-02,1,2,0.5,None,")
    frame = FilesProvider(path).fetch_prices(["NA", "NAN"], *SPAN).frame
    assert frame["symbol"].tolist() == ["NA", "NAN"]
    assert frame[["close", "volume"]].isna().all().all()


def test_header_only_file_is_valid_and_empty(tmp_path: Path) -> None:
    result = FilesProvider(write(tmp_path / "prices.csv", HEADER)).fetch_prices(["AAPL"], *SPAN)
    assert result.frame.empty and result.failures == {"AAPL": "not in files"}


# ---------------------------------------------------------------- format errors


def test_missing_required_column_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.csv", "symbol,date,open,high,low,volume", "AAPL,2025-01-02,1,2,0.5,10")
    err = format_error(path)
    assert "prices.csv line 1, column 'close': missing required column" in str(err)
    assert (err.line, err.column) == (1, "close")
    assert isinstance(err, ProviderError) and isinstance(err, ValueError)


def test_non_numeric_value_names_file_line_and_column(tmp_path: Path) -> None:
    rows = list(ROWS)
    rows[5] = "MSFT,2025-01-06,401,406,399,abc,600"
    err = format_error(write(tmp_path / "prices.csv", HEADER, *rows))
    assert str(err) == f"{tmp_path / 'prices.csv'} line 7, column 'close': 'abc' is not a number"
    assert (err.line, err.column) == (7, "close")


def test_unparseable_date_names_file_line_and_column(tmp_path: Path) -> None:
    rows = list(ROWS)
    rows[1] = "AAPL,01/03/2025,101,103,100,102.5,1100"
    err = format_error(write(tmp_path / "prices.csv", HEADER, *rows))
    assert "prices.csv line 3, column 'date': '01/03/2025' is not a date" in str(err)
    rows[1] = "AAPL,2025-02-30,101,103,100,102.5,1100"
    err = format_error(write(tmp_path / "prices.csv", HEADER, *rows))
    assert "prices.csv line 3, column 'date': '2025-02-30' is not a date" in str(err)


def test_blank_lines_do_not_shift_line_numbers_and_all_problems_are_listed(tmp_path: Path) -> None:
    bad_open, no_symbol = "AAPL,2025-01-03,x,103,100,102.5,1100", ",2025-01-06,1,2,0.5,1,1"
    path = write(tmp_path / "prices.csv", HEADER, ROWS[0], "", bad_open, "", no_symbol)
    err = format_error(path)
    assert str(err).startswith(f"{path} line 4, column 'open': 'x' is not a number")
    assert "line 6, column 'symbol': missing symbol" in str(err)
    assert [p.line for p in err.problems] == [4, 6]


def test_duplicate_rows_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.csv", HEADER, *ROWS, "AAPL,2025-01-03,1,2,0.5,1,1")
    err = format_error(path)
    assert "prices.csv lines 3 and 8, columns 'symbol', 'date': duplicate row for AAPL on 2025-01-03" in str(err)


def test_duplicates_across_files_name_both_files(tmp_path: Path) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    write(folder / "a.csv", HEADER, *ROWS[:3])
    write(folder / "b.csv", HEADER, ROWS[4], ROWS[2])
    message = str(format_error(folder))
    assert "a.csv line 4 and " in message and "b.csv line 3, columns 'symbol', 'date'" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("")
    err = format_error(path)
    assert "prices.csv line 1, column 'symbol': file is empty" in str(err)


def test_too_many_fields_names_the_line(tmp_path: Path) -> None:
    err = format_error(write(tmp_path / "prices.csv", HEADER, ROWS[0], ROWS[1] + ",9"))
    assert "prices.csv line 3: 8 fields where the header has 7" in str(err)


def test_too_few_fields_names_the_file_and_line(tmp_path: Path) -> None:
    # 4 of 7 fields used to load with high/low/close missing and fail a check much later.
    err = format_error(write(tmp_path / "prices.csv", HEADER, ROWS[0], "AAPL,2025-01-03,101,103", "", ROWS[2]))
    assert "prices.csv line 3: 4 fields where the header has 7" in str(err)
    assert err.line == 3 and len(err.problems) == 1
    # Empty trailing values are missing data, not a short line; quoted files are counted too.
    ok = write(tmp_path / "ok.csv", HEADER, "AAPL,2025-01-02,100,102,99,101,")
    assert len(FilesProvider(ok).fetch_prices(["AAPL"], *SPAN).frame) == 1
    quoted = write(tmp_path / "q.csv", HEADER, '"AAPL","2025-01-02","100","102","99","101","5"', '"AAPL","2025-01-03"')
    assert "q.csv line 3: 2 fields where the header has 7" in str(format_error(quoted))


def test_gzipped_short_line(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "prices.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, ROWS[0], "AAPL,2025-01-03,1"]) + "\n").encode()))
    assert "prices.csv.gz line 3: 3 fields where the header has 7" in str(format_error(path))


def test_symbols_spelled_otherwise_say_they_are_not_in_the_universe(tmp_path: Path) -> None:
    path = write(tmp_path / "prices.csv", HEADER, *(r.lower() for r in ROWS))
    with pytest.raises(ProviderError) as info:
        FilesProvider(path).fetch_prices(["AAPL", "MSFT"], *SPAN)
    text = str(info.value)
    assert "symbols not in the universe: 'aapl', 'msft'" in text and "upper case" in text
    # Some present: the others fail, and say how the files spell them.
    mixed = write(tmp_path / "mixed.csv", HEADER, ROWS[0], ROWS[3].lower())
    result = FilesProvider(mixed).fetch_prices(["AAPL", "MSFT"], *SPAN)
    assert result.failures == {"MSFT": "not in files (spelled 'msft' there)"}


def test_parquet_problems_name_the_row_index(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"symbol": ["AAPL"] * 3, "date": ["2025-01-02", "2025-01-03", "2025-01-06"], "open": [1.0] * 3,
         "high": [2.0] * 3, "low": [0.5] * 3, "close": ["1.5", "oops", "2"], "volume": [1.0] * 3}
    )
    frame.to_parquet(tmp_path / "prices.parquet")
    err = format_error(tmp_path / "prices.parquet")
    assert "prices.parquet row index 1, column 'close': 'oops' is not a number" in str(err)
    frame.drop(columns="volume").to_parquet(tmp_path / "prices.parquet")
    err = format_error(tmp_path / "prices.parquet")
    assert "prices.parquet schema, column 'volume': missing required column" in str(err)


def test_many_problems_are_summarised(tmp_path: Path) -> None:
    rows = [f"AAPL,2025-01-{d:02d},1,2,0.5,bad,1" for d in range(1, 29)]
    err = format_error(write(tmp_path / "prices.csv", HEADER, *rows))
    assert len(err.problems) == 28
    assert "(27 more problem(s):" in str(err) and "... and 18 more" in str(err)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ProviderError, match="not found"):
        FilesProvider(tmp_path / "nope.csv").fetch_prices(["AAPL"], *SPAN)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FilesFormatError, match="holds no prices file"):
        FilesProvider(tmp_path / "empty").fetch_prices(["AAPL"], *SPAN)


# ---------------------------------------------------------------- shares and caching


def test_shares_point_in_time(tmp_path: Path) -> None:
    shares = write(
        tmp_path / "shares.csv",
        "symbol,date,shares_outstanding",
        "AAPL,2024-11-01,15000000000",
        "AAPL,2025-02-01,14900000000",
        "MSFT,2025-02-01,7400000000",
    )
    provider = FilesProvider(prices_csv(tmp_path), shares)
    result = provider.fetch_shares(["AAPL", "MSFT", "TSLA"], dt.date(2025, 1, 31))
    assert result.frame[["symbol", "shares_outstanding"]].values.tolist() == [["AAPL", 15e9]]
    assert result.failures == {"TSLA": "not in shares file"}
    assert len(provider.fetch_shares(["AAPL", "MSFT"], dt.date(2025, 2, 1)).frame) == 3


def test_no_shares_file_configured(tmp_path: Path) -> None:
    result = FilesProvider(prices_csv(tmp_path)).fetch_shares(["AAPL", "MSFT"], dt.date(2025, 1, 31))
    assert result.frame.empty
    assert list(result.frame.columns) == ["symbol", "date", "shares_outstanding", "source"]
    assert result.failures == {"AAPL": "no shares file configured", "MSFT": "no shares file configured"}


def test_shares_duplicates_are_format_errors(tmp_path: Path) -> None:
    shares = write(tmp_path / "shares.csv", "symbol,date,shares_outstanding", "AAPL,2025-02-01,1", "AAPL,2025-02-01,2")
    with pytest.raises(FilesFormatError, match="shares.csv lines 2 and 3, columns 'symbol', 'date'"):
        FilesProvider(prices_csv(tmp_path), shares).fetch_shares(["AAPL"], dt.date(2025, 12, 31))


def test_files_are_read_once_and_again_when_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = files_module._read_all
    monkeypatch.setattr(files_module, "_read_all", lambda files, layout: reads.append(1) or real(files, layout))
    path = prices_csv(tmp_path)
    provider = FilesProvider(path)
    provider.fetch_prices(["AAPL"], *SPAN)
    provider.fetch_prices(["MSFT"], *SPAN)
    assert len(reads) == 1
    write(path, HEADER, "AAPL,2025-01-02,1,2,0.5,7,1")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert provider.fetch_prices(["AAPL"], *SPAN).frame["close"].tolist() == [7.0]
    assert len(reads) == 2

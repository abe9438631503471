import numpy as np
import pandas as pd

from autoindex_pipeline.domain.quality import check_completeness
from autoindex_pipeline.services.gx import check_duplicates, check_ohlc_validity, check_positive_prices_and_volume


def _frame(rows):
    frame = pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_completeness_counts_only_the_active_range():
    sessions = pd.DatetimeIndex(pd.to_datetime(["2025-01-06", "2025-01-07", "2025-01-08", "2025-01-09", "2025-01-10"]))
    prices = _frame([
        # A: full life, one NaN close and one zero close -> 3 valid of 5
        ("A", "2025-01-06", 1, 1, 1, 1.0, 1), ("A", "2025-01-07", 1, 1, 1, np.nan, 1),
        ("A", "2025-01-08", 1, 1, 1, 0.0, 1), ("A", "2025-01-09", 1, 1, 1, 1.0, 1),
        ("A", "2025-01-10", 1, 1, 1, 1.0, 1),
        # B: listed on the 8th, misses the 9th -> 2 valid of 3
        ("B", "2025-01-08", 1, 1, 1, 1.0, 1), ("B", "2025-01-10", 1, 1, 1, 1.0, 1),
    ])
    # The whole window as one period: the figures the CLI summary once printed.
    out = check_completeness(prices, sessions, period=None).details["per_symbol"].set_index("symbol")
    assert out.loc["A", "expected"] == 5 and out.loc["A", "valid"] == 3
    assert out.loc["A", "completeness"] == 0.6
    assert out.loc["B", "expected"] == 3 and out.loc["B", "valid"] == 2
    assert abs(out.loc["B", "completeness"] - 2 / 3) < 1e-12


def test_validity_names_each_rule():
    prices = _frame([
        ("OK", "2025-01-06", 10, 11, 9, 10.5, 100),
        ("HI", "2025-01-06", 10, 10.2, 9, 10.5, 100),   # close above high
        ("NP", "2025-01-06", 10, 11, 9, -1.0, 100),     # non-positive
        ("NV", "2025-01-06", 10, 11, 9, 10.0, -5),      # negative volume
    ])
    ohlc = check_ohlc_validity(prices).offending.set_index("symbol")["reason"].to_dict()
    positive = check_positive_prices_and_volume(prices).offending.set_index("symbol")["reason"].to_dict()
    assert ohlc == {"HI": "close above high", "NP": "close below low"}  # a close of -1 is below the low too
    assert positive == {"NP": "close not positive", "NV": "negative volume"}


def test_duplicates_return_both_rows():
    prices = _frame([("A", "2025-01-06", 1, 1, 1, 1, 1), ("A", "2025-01-06", 1, 1, 1, 2, 1), ("A", "2025-01-07", 1, 1, 1, 1, 1)])
    assert len(check_duplicates(prices).offending) == 2

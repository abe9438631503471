"""The validation rate (rows passing every blocking rule / rows checked), domain/quality/validation.py."""

import pandas as pd
import pytest

from autoindex_pipeline.domain.quality import ERROR, WARN, CheckOutcome
from autoindex_pipeline.domain.quality.validation import (
    check_validation_rate,
    daily_validation,
    run_validation_rate,
    window_rate,
)

D1, D2, D3 = pd.Timestamp("2025-08-11"), pd.Timestamp("2025-08-12"), pd.Timestamp("2025-08-13")


def _stored(symbols, dates):
    return pd.DataFrame([(s, d) for d in dates for s in symbols], columns=["symbol", "date"])


def _outcome(name, rows, severity=ERROR):
    off = pd.DataFrame([(s, d, 1.0, "bad", severity) for s, d in rows], columns=["symbol", "date", "value", "reason", "severity"])
    return CheckOutcome(name, off.empty, severity, float(len(off)), 0.0, "", off, pd.Series(dtype=float), evaluated=10)


def test_a_run_rate_is_the_share_of_delivered_rows_not_refused():
    assert run_validation_rate(40, 2) == pytest.approx(0.95)
    assert run_validation_rate(40, 0) == 1.0
    assert run_validation_rate(0, 0) is None  # nothing delivered: no rate, not a perfect one


def test_per_session_open_refusals_and_blocking_failures_count_warnings_do_not():
    symbols = [f"S{i}" for i in range(20)]
    stored = _stored(symbols, [D1, D2, D3])
    stored = stored[~((stored["symbol"] == "S0") & (stored["date"] == D2))]  # S0's D2 delivery was refused
    refusals = pd.DataFrame({"symbol": ["S0", "S0"], "date": [D2, D2], "check_name": ["return_cap", "ohlc_validity"]})
    outcomes = [
        _outcome("ohlc_validity", [("S1", D3)]),  # a stored row failing a blocking rule (e.g. stored before the rule)
        _outcome("robust_z", [("S2", D1), ("S3", D1)], severity=WARN),  # a warning is not a validation failure
        _outcome("return_cap", []),
    ]
    daily = daily_validation(stored, outcomes, refusals, sessions=pd.DatetimeIndex([D1, D2, D3, pd.Timestamp("2025-08-14")]))
    assert daily["date"].tolist() == [D1, D2, D3, pd.Timestamp("2025-08-14")]
    assert daily["checked"].tolist() == [20, 20, 20, 0]  # the refused key is checked once, though twice refused
    assert daily["passed"].tolist() == [20, 19, 19, 0]
    assert daily["rate"].iloc[:3].tolist() == [1.0, 0.95, 0.95] and pd.isna(daily["rate"].iloc[3])
    assert window_rate(daily) == pytest.approx(58 / 60)


def test_the_check_names_each_session_below_the_line():
    daily = pd.DataFrame({"date": [D1, D2, D3], "checked": [20, 20, 0], "passed": [20, 18, 0], "rate": [1.0, 0.9, float("nan")]})
    outcome = check_validation_rate(daily, 0.95)
    assert not outcome.passed and outcome.severity == WARN
    assert outcome.offending["date"].tolist() == [D2] and outcome.offending["value"].tolist() == [0.9]
    assert "18 of 20 rows pass every blocking rule (90.0% < 95%)" == outcome.offending["reason"].iloc[0]
    assert outcome.evaluated == 2 and outcome.observed == pytest.approx(38 / 40)  # a session with nothing checked is not judged
    assert check_validation_rate(daily, 0.9).passed

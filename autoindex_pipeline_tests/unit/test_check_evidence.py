"""What a check says in the UI (issue 16, finding 4): rows an override settled are no observed
failures (the check passes with observed 0 and counts them apart), and the evidence of a
warning-level check is labelled WARN, row by row, in the UI's table."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from autoindex_pipeline.defs.quality.results import check_result
from autoindex_pipeline.domain import quality
from autoindex_pipeline.domain.quality import _offending, _outcome


def _ohlc_two_bad_rows() -> quality.CheckOutcome:
    off = _offending(["JPM", "JPM"], pd.to_datetime(["2025-08-12", "2026-08-12"]), [10.0, 10.0],
                     ["close above high", "close above high"], quality.ERROR)
    return _outcome("ohlc_validity", off, severity=quality.ERROR, observed=2.0, threshold=0.0,
                    description="low <= min(open, close) <= max(open, close) <= high", evaluated=500)


def test_overridden_rows_are_no_observed_failures_in_the_check_result():
    overrides = pd.DataFrame({"symbol": ["JPM", "JPM"], "date": ["2025-08-12", "2026-08-12"], "action": ["exclude", "exclude"]})
    outcome = quality.apply_overrides(_ohlc_two_bad_rows(), overrides)
    result = check_result(outcome, "prices")
    assert result.passed and result.metadata["observed"] == dg.FloatMetadataValue(0.0)
    assert result.metadata["overridden_rows"] == dg.IntMetadataValue(2)
    # The UI's line used to read "passed, observed 2 vs threshold 0": the settled rows.
    assert result.description == "ohlc_validity: passed, observed 0 vs threshold 0, 0 offending of 500 evaluated"


def test_a_partly_overridden_check_counts_only_what_is_left():
    overrides = pd.DataFrame({"symbol": ["JPM"], "date": ["2025-08-12"], "action": ["exclude"]})
    outcome = quality.apply_overrides(_ohlc_two_bad_rows(), overrides)
    assert not outcome.passed and outcome.observed == 1.0 and outcome.details["overridden_rows"] == 1


def test_warning_level_evidence_is_labelled_warn():
    off = _offending(["MSFT"], pd.to_datetime(["2025-05-19"]), [-0.036], ["robust z -5.2 beyond 5"],
                     quality.severity_of("robust_z"))
    outcome = _outcome("robust_z", off, severity=quality.severity_of("robust_z"), observed=1.0, threshold=0.0,
                       description="robust z", evaluated=246)
    result = check_result(outcome, "prices")
    assert result.severity == dg.AssetCheckSeverity.WARN and not result.passed
    table = result.metadata["offending_rows"].value
    assert "| WARN |" in table and "ERROR" not in table
    assert "FAILED (WARN)" in result.description

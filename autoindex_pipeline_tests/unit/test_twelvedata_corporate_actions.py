"""TwelveData /splits and /dividends against a local fake server replaying hand-recorded bodies."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline_tests.unit.twelvedata_server import KEY, fixture

pytest_plugins = ["autoindex_pipeline_tests.unit.twelvedata_server"]
pytestmark = pytest.mark.usefixtures("no_unmatched_requests")


START, END = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
RANGE = "start_date=2024-01-01&end_date=2024-12-31"


def test_splits_and_dividends_become_events_with_new_shares_per_old_share(httpserver, make_provider):
    httpserver.expect_request("/splits", query_string=f"symbol=NVDA&{RANGE}").respond_with_json(fixture("splits.json"))
    httpserver.expect_request("/dividends", query_string=f"symbol=NVDA&{RANGE}").respond_with_json(fixture("dividends.json"))
    provider = make_provider(credits_per_minute=60)
    result = provider.fetch_corporate_actions(["NVDA"], START, END)
    frame = result.frame
    assert result.failures == {}
    # The 2021 split is outside the range asked for and is dropped; 10-for-1 is k = 10.
    assert frame[["kind", "ex_date"]].values.tolist() == [
        ["dividend", pd.Timestamp("2024-03-05")], ["split", pd.Timestamp("2024-06-10")], ["dividend", pd.Timestamp("2024-06-11")]
    ]
    assert frame.loc[frame["kind"] == "split", "ratio"].tolist() == [10.0]
    assert frame.loc[frame["kind"] == "dividend", "amount"].tolist() == [0.04, 0.01]
    assert set(frame.loc[frame["kind"] == "dividend", "currency"]) == {"USD"}
    assert (frame["source"] == "twelvedata").all()
    # Two calls, each paid at its own price from the shared credit budget.
    assert result.stats.calls == 2 and result.stats.succeeded == 2 and result.stats.credits_used == 40
    for entry in httpserver.log:
        assert entry[0].headers["Authorization"] == f"apikey {KEY}"
        assert KEY not in entry[0].query_string.decode()


def test_ratio_alone_is_read_as_a_price_factor(httpserver, make_provider):
    body = fixture("splits.json")
    for split in body["splits"]:
        del split["from_factor"], split["to_factor"]
    httpserver.expect_request("/splits").respond_with_json(body)
    httpserver.expect_request("/dividends").respond_with_json({"meta": {}, "dividends": []})
    frame = make_provider(credits_per_minute=60).fetch_corporate_actions(["NVDA"], START, END).frame
    np.testing.assert_allclose(frame["ratio"], [10.0])


def test_an_unknown_symbol_fails_alone_and_the_others_are_kept(httpserver, make_provider):
    httpserver.expect_request("/splits", query_string=f"symbol=NOPE&{RANGE}").respond_with_json(fixture("error_404_splits.json"))
    httpserver.expect_request("/splits", query_string=f"symbol=NVDA&{RANGE}").respond_with_json(fixture("splits.json"))
    httpserver.expect_request("/dividends", query_string=f"symbol=NVDA&{RANGE}").respond_with_json(fixture("dividends.json"))
    result = make_provider(credits_per_minute=60).fetch_corporate_actions(["NOPE", "NVDA"], START, END)
    assert list(result.failures) == ["NOPE"] and "404" in result.failures["NOPE"]
    assert set(result.frame["symbol"]) == {"NVDA"}


def test_429_in_a_200_body_waits_for_the_next_minute_and_retries(httpserver, make_provider, clock):
    httpserver.expect_ordered_request("/splits").respond_with_json(fixture("error_429_http200.json"))
    httpserver.expect_ordered_request("/splits").respond_with_json(fixture("splits.json"))
    httpserver.expect_ordered_request("/dividends").respond_with_json(fixture("dividends.json"))
    result = make_provider(credits_per_minute=60).fetch_corporate_actions(["NVDA"], START, END)
    assert result.failures == {} and len(result.frame) == 3
    assert result.stats.retried == 1 and result.stats.calls == 3


def test_a_call_costing_more_than_the_plan_minute_is_refused_before_any_request(httpserver, make_provider):
    with pytest.raises(PlanLimitExceeded, match="/splits costs 20 credits"):
        make_provider(credits_per_minute=8).fetch_corporate_actions(["NVDA"], START, END)
    assert len(httpserver.log) == 0


def test_a_malformed_entry_fails_the_symbol(httpserver, make_provider):
    httpserver.expect_request("/splits").respond_with_json({"meta": {}, "splits": [{"date": "2024-06-10", "ratio": 0}]})
    result = make_provider(credits_per_minute=60).fetch_corporate_actions(["NVDA"], START, END)
    assert "malformed /splits entry" in result.failures["NVDA"] and result.frame.empty

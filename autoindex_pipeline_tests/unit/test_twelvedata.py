"""TwelveDataProvider against a local fake server replaying hand-recorded bodies."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from urllib.parse import parse_qs

import httpx
import pandas as pd
import pytest
from pytest_httpserver import HTTPServer

from autoindex_pipeline.providers.prices.base import PriceProvider, ProviderError
from autoindex_pipeline.providers.prices.twelvedata import WINDOW_DAYS, TwelveDataProvider, _date_windows
from autoindex_pipeline_tests.unit.twelvedata_server import KEY, fixture

pytest_plugins = ["autoindex_pipeline_tests.unit.twelvedata_server"]
pytestmark = pytest.mark.usefixtures("no_unmatched_requests")


def requested(server: HTTPServer, index: int = -1) -> dict[str, str]:
    request = server.log[index][0]
    return {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}


JAN = dt.date(2024, 1, 1)


def d(day: int) -> dt.date:
    return JAN.replace(day=day)


# --------------------------------------------------------------------------------------------
# Parsing


def test_single_symbol_parses_string_numbers_and_is_inclusive(httpserver, make_provider):
    httpserver.expect_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    provider = make_provider()
    result = provider.fetch_prices(["AAPL"], d(3), d(5))

    frame = result.frame
    # The fixture holds 01-02..01-08; start and end are both kept, the rest dropped.
    assert frame["date"].tolist() == [pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04"), pd.Timestamp("2024-01-05")]
    assert frame["symbol"].unique().tolist() == ["AAPL"]
    assert frame.loc[2, "close"] == pytest.approx(181.17999)
    assert frame.loc[2, "volume"] == 62303300.0
    assert str(frame["date"].dtype) == "datetime64[ns]"
    assert all(str(frame[c].dtype) == "float64" for c in ("open", "high", "low", "close", "volume"))
    assert (frame["source"] == "twelvedata").all()
    assert result.failures == {}
    assert result.stats.credits_used == 1
    assert result.stats.success_rate == 1.0

    params = requested(httpserver)
    assert params == {
        "symbol": "AAPL",
        "interval": "1day",
        "start_date": "2024-01-03",
        "end_date": "2024-01-06",  # end + 1 day: TwelveData's end_date is exclusive for daily bars
        "outputsize": "5000",
        "order": "ASC",
        "timezone": "America/New_York",
    }


def test_key_travels_in_the_authorization_header_not_the_query(httpserver, make_provider):
    httpserver.expect_request("/time_series", headers={"Authorization": f"apikey {KEY}"}).respond_with_json(
        fixture("time_series_single.json")
    )
    make_provider().fetch_prices(["AAPL"], d(2), d(5))
    request = httpserver.log[0][0]
    assert request.headers["Authorization"] == f"apikey {KEY}"
    assert KEY not in request.query_string.decode()
    assert "apikey" not in request.query_string.decode()


def test_batch_with_one_bad_symbol_reports_it_and_returns_the_others(httpserver, make_provider):
    httpserver.expect_request("/time_series").respond_with_json(fixture("time_series_batch_bad_symbol.json"))
    provider = make_provider(credits_per_minute=120)
    result = provider.fetch_prices(["AAPL", "MSFT", "NOPE"], d(4), d(5))

    assert result.fetched_symbols == ["AAPL", "MSFT"]
    assert len(result.frame) == 4
    assert result.frame.loc[result.frame["symbol"] == "MSFT", "close"].tolist() == [367.94, 367.75]
    assert set(result.failures) == {"NOPE"}
    assert "404" in result.failures["NOPE"] and "symbol" in result.failures["NOPE"]
    assert requested(httpserver)["symbol"] == "AAPL,MSFT,NOPE"
    assert result.stats.credits_used == 3
    assert (result.stats.calls, result.stats.succeeded) == (1, 1)


def test_batches_never_exceed_the_minute_budget_and_report_progress(httpserver, make_provider, clock):
    batch = fixture("time_series_batch_bad_symbol.json")
    del batch["NOPE"]
    httpserver.expect_ordered_request("/time_series").respond_with_json(batch)
    httpserver.expect_ordered_request("/time_series").respond_with_json(
        fixture("time_series_batch_bad_symbol.json")["NOPE"], status=404
    )
    provider = make_provider(batch_size=120, credits_per_minute=2)
    assert provider.batch_size == 2
    seen: list[tuple[int, int]] = []
    result = provider.fetch_prices(["AAPL", "MSFT", "NOPE"], d(4), d(5), progress=lambda done, total: seen.append((done, total)))

    assert seen == [(2, 3), (3, 3)]
    assert [requested(httpserver, i)["symbol"] for i in range(2)] == ["AAPL,MSFT", "NOPE"]
    assert result.fetched_symbols == ["AAPL", "MSFT"]
    assert "404" in result.failures["NOPE"]
    # 2 credits, then 1 more inside the same minute: the limiter waits the minute out.
    assert clock.sleeps == [pytest.approx(60.0)]
    assert result.stats.credits_used == 3


def test_symbols_are_deduplicated_and_empty_input_is_empty(httpserver, make_provider):
    provider = make_provider()
    result = provider.fetch_prices([], d(2), d(5))
    assert result.frame.empty and result.failures == {} and result.stats.calls == 0
    httpserver.expect_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = provider.fetch_prices(["AAPL", " AAPL ", "AAPL"], d(2), d(5))
    assert requested(httpserver)["symbol"] == "AAPL"
    assert result.stats.credits_used == 1


def test_no_data_in_range_is_a_failure_with_the_reason(httpserver, make_provider):
    body = {"code": 400, "message": "No data is available on the specified dates. Try setting different start/end dates.", "status": "error"}
    httpserver.expect_request("/time_series").respond_with_json(body, status=400)
    result = make_provider().fetch_prices(["AAPL"], d(2), d(5))
    assert result.frame.empty
    assert "no bars in the requested range" in result.failures["AAPL"]
    assert result.stats.calls == 1  # a 400 is final
    # ... and a correct answer, not a failed call: it does not lower the provider's success rate.
    assert (result.stats.succeeded, result.stats.failed) == (1, 0)


def test_unparseable_bar_fails_only_that_symbol(httpserver, make_provider):
    batch = fixture("time_series_batch_bad_symbol.json")
    del batch["NOPE"]
    batch["MSFT"]["values"][0]["close"] = "n/a"
    httpserver.expect_request("/time_series").respond_with_json(batch)
    result = make_provider(credits_per_minute=120).fetch_prices(["AAPL", "MSFT"], d(4), d(5))
    assert result.fetched_symbols == ["AAPL"]
    assert "malformed response" in result.failures["MSFT"]


def test_symbol_missing_from_a_batch_is_reported(httpserver, make_provider):
    batch = fixture("time_series_batch_bad_symbol.json")
    del batch["NOPE"]
    httpserver.expect_request("/time_series").respond_with_json(batch)
    result = make_provider(credits_per_minute=120).fetch_prices(["AAPL", "MSFT", "GONE"], d(4), d(5))
    assert result.fetched_symbols == ["AAPL", "MSFT"]
    assert "missing from the batch" in result.failures["GONE"]


def test_long_ranges_are_split_so_outputsize_cannot_truncate():
    windows = _date_windows(dt.date(2000, 1, 1), dt.date(2025, 12, 31))
    assert windows[0][0] == dt.date(2000, 1, 1) and windows[-1][1] == dt.date(2025, 12, 31)
    for (_, hi), (lo, _) in zip(windows, windows[1:]):
        assert lo == hi + dt.timedelta(days=1)
    assert all((hi - lo).days + 1 <= WINDOW_DAYS for lo, hi in windows)
    assert _date_windows(d(5), d(5)) == [(d(5), d(5))]


def test_window_with_no_data_before_an_ipo_does_not_fail_the_symbol(httpserver, make_provider):
    no_data = {"code": 400, "message": "No data is available on the specified dates.", "status": "error"}
    httpserver.expect_ordered_request("/time_series").respond_with_json(no_data)
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = make_provider().fetch_prices(["AAPL"], dt.date(2005, 1, 1), d(5))
    assert [requested(httpserver, i)["start_date"] for i in range(2)] == [
        "2005-01-01",
        (dt.date(2005, 1, 1) + dt.timedelta(days=WINDOW_DAYS)).isoformat(),
    ]
    assert result.failures == {}
    assert len(result.frame) == 4  # 01-02..01-05


# --------------------------------------------------------------------------------------------
# Errors and retries


def test_http_200_with_429_body_is_retried_then_succeeds(httpserver, make_provider, clock):
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("error_429_http200.json"))
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = make_provider().fetch_prices(["AAPL"], d(2), d(5))
    assert len(result.frame) == 4
    stats = result.stats
    assert (stats.calls, stats.succeeded, stats.failed, stats.retried) == (2, 1, 1, 1)
    assert stats.success_rate == 0.5
    assert stats.credits_used == 2
    # Credits are per clock minute: wait for the next one (+1 s), not for a 1 s backoff.
    assert clock.sleeps == [16.0]


def test_http_500_then_success(httpserver, make_provider):
    httpserver.expect_ordered_request("/time_series").respond_with_data("<html>oops</html>", status=500)
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = make_provider().fetch_prices(["AAPL"], d(2), d(5))
    assert result.failures == {}
    assert result.stats.retried == 1


def test_retry_after_header_is_honoured(httpserver, make_provider, clock):
    httpserver.expect_ordered_request("/time_series").respond_with_json(
        fixture("error_429_http200.json"), status=429, headers={"Retry-After": "17"}
    )
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = make_provider().fetch_prices(["AAPL"], d(2), d(5))
    assert result.failures == {}
    assert clock.sleeps == [17.0]


def test_timeout_then_success(make_provider, clock):
    calls = {"n": 0}
    body = json.dumps(fixture("time_series_single.json")).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        assert request.headers["Authorization"] == f"apikey {KEY}"
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    provider = make_provider(base_url="http://td.invalid", transport=httpx.MockTransport(handler))
    result = provider.fetch_prices(["AAPL"], d(2), d(5))
    assert len(result.frame) == 4
    assert (result.stats.calls, result.stats.failed, result.stats.retried) == (2, 1, 1)
    assert clock.sleeps == [1.0]


def test_garbage_body_goes_to_failures_after_bounded_retries(httpserver, make_provider, clock):
    httpserver.expect_request("/time_series").respond_with_data("<html>maintenance</html>", status=200)
    result = make_provider(credits_per_minute=120).fetch_prices(["AAPL", "MSFT"], d(2), d(5))
    assert result.frame.empty
    assert set(result.failures) == {"AAPL", "MSFT"}
    assert all("malformed response" in r and "3 attempts" in r for r in result.failures.values())
    assert (result.stats.calls, result.stats.failed, result.stats.retried) == (3, 3, 2)
    assert clock.sleeps == [1.0, 2.0]


def test_unexpected_json_shape_is_retried_like_garbage(httpserver, make_provider):
    httpserver.expect_ordered_request("/time_series").respond_with_json({"status": "ok", "what": 1})
    httpserver.expect_ordered_request("/time_series").respond_with_json(fixture("time_series_single.json"))
    result = make_provider().fetch_prices(["AAPL"], d(2), d(5))
    assert result.failures == {}
    assert result.stats.retried == 1


def test_per_symbol_429_inside_a_batch_re_requests_only_that_symbol(httpserver, make_provider, clock):
    batch = fixture("time_series_batch_bad_symbol.json")
    batch["NOPE"] = fixture("error_429_http200.json")
    msft = copy.deepcopy(fixture("time_series_single.json"))
    msft["meta"]["symbol"] = "MSFT"
    httpserver.expect_ordered_request("/time_series").respond_with_json(batch)
    httpserver.expect_ordered_request("/time_series").respond_with_json(msft)
    result = make_provider(credits_per_minute=120).fetch_prices(["AAPL", "MSFT", "NOPE"], d(4), d(5))
    assert requested(httpserver, 1)["symbol"] == "NOPE"
    assert result.failures == {}
    assert result.fetched_symbols == ["AAPL", "MSFT", "NOPE"]
    assert result.stats.retried == 1 and result.stats.credits_used == 4
    assert clock.sleeps == [16.0]


@pytest.mark.parametrize("status", [401, 200])
def test_bad_key_raises_without_showing_the_key(httpserver, make_provider, status, caplog):
    httpserver.expect_request("/time_series").respond_with_json(fixture("error_401.json"), status=status)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as info:
        make_provider().fetch_prices(["AAPL", "MSFT"], d(2), d(5))
    assert "401" in str(info.value)
    assert KEY not in str(info.value)
    assert info.value.__cause__ is None
    assert len(httpserver.log) == 1  # not retried
    assert KEY not in caplog.text


def test_a_401_inside_a_batch_entry_is_a_bad_key(httpserver, make_provider):
    batch = fixture("time_series_batch_bad_symbol.json")
    batch["NOPE"] = fixture("error_401.json")
    httpserver.expect_request("/time_series").respond_with_json(batch)
    with pytest.raises(ProviderError, match="401"):
        make_provider(credits_per_minute=120).fetch_prices(["AAPL", "MSFT", "NOPE"], d(4), d(5))


def test_key_never_in_logs_or_failures_even_when_the_provider_echoes_it(httpserver, make_provider, caplog):
    echo = {"code": 404, "message": f"symbol not found for apikey {KEY}", "status": "error"}
    httpserver.expect_ordered_request("/time_series").respond_with_data(f"bad gateway {KEY}", status=502)
    httpserver.expect_ordered_request("/time_series").respond_with_json(echo, status=404)
    caplog.set_level(logging.DEBUG)
    result = make_provider().fetch_prices(["NOPE"], d(2), d(5))
    assert "404" in result.failures["NOPE"]
    assert KEY not in result.failures["NOPE"]
    assert "***" in result.failures["NOPE"]
    client_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert KEY not in client_side
    assert KEY not in json.dumps(result.stats.as_metadata())


def test_daily_budget_exhaustion_keeps_what_was_fetched(httpserver, make_provider):
    batch = fixture("time_series_batch_bad_symbol.json")
    del batch["NOPE"]
    httpserver.expect_request("/time_series").respond_with_json(batch)
    seen: list[tuple[int, int]] = []
    provider = make_provider(credits_per_minute=2, credits_per_day=2)
    result = provider.fetch_prices(["AAPL", "MSFT", "NVDA"], d(4), d(5), progress=lambda a, b: seen.append((a, b)))
    assert result.fetched_symbols == ["AAPL", "MSFT"]
    assert "daily budget" in result.failures["NVDA"]
    assert len(httpserver.log) == 1
    assert seen[-1] == (3, 3)


def test_implements_the_protocol_and_hides_the_key():
    provider = TwelveDataProvider(KEY, base_url="http://td.invalid")
    assert isinstance(provider, PriceProvider)
    assert provider.name == "twelvedata"
    assert KEY not in repr(provider)
    assert KEY not in repr(vars(provider).get("_http"))
    provider.close()
    with pytest.raises(ValueError):
        TwelveDataProvider("  ")


# --------------------------------------------------------------------------------------------
# Shares outstanding


def test_shares_known_from_today_in_new_york(httpserver, make_provider):
    httpserver.expect_request("/statistics", query_string="symbol=AAPL").respond_with_json(fixture("statistics.json"))
    result = make_provider(credits_per_minute=60, statistics_credits=50).fetch_shares(["AAPL"], d(10))
    assert result.failures == {}
    row = result.frame.iloc[0]
    assert row["symbol"] == "AAPL"
    assert row["date"] == pd.Timestamp("2024-01-10")
    assert row["shares_outstanding"] == 15_461_900_000.0
    assert row["source"] == "twelvedata"
    assert result.stats.credits_used == 50
    assert httpserver.log[0][0].headers["Authorization"] == f"apikey {KEY}"


def test_shares_for_an_earlier_end_are_not_backfilled_and_cost_nothing(httpserver, make_provider):
    result = make_provider(credits_per_minute=60).fetch_shares(["AAPL", "MSFT"], d(5))
    assert result.frame.empty
    assert set(result.failures) == {"AAPL", "MSFT"}
    assert "only gives the current" in result.failures["AAPL"]
    assert httpserver.log == []
    assert result.stats.calls == 0


def test_shares_plan_without_fundamentals_is_a_per_symbol_failure(httpserver, make_provider):
    httpserver.expect_request("/statistics", query_string="symbol=AAPL").respond_with_json(fixture("statistics.json"))
    httpserver.expect_request("/statistics", query_string="symbol=MSFT").respond_with_json(
        fixture("error_403_statistics.json"), status=403
    )
    result = make_provider(credits_per_minute=60).fetch_shares(["AAPL", "MSFT"], d(10))
    assert result.frame["symbol"].tolist() == ["AAPL"]
    assert "plan does not include fundamentals" in result.failures["MSFT"]
    assert result.stats.calls == 2


def test_shares_missing_field_is_a_failure(httpserver, make_provider):
    body = fixture("statistics.json")
    del body["statistics"]["stock_statistics"]["shares_outstanding"]
    httpserver.expect_request("/statistics").respond_with_json(body)
    result = make_provider(credits_per_minute=60).fetch_shares(["AAPL"], d(10))
    assert result.frame.empty
    assert "no shares_outstanding" in result.failures["AAPL"]


def test_shares_bad_key_raises(httpserver, make_provider):
    httpserver.expect_request("/statistics").respond_with_json(fixture("error_401.json"), status=401)
    with pytest.raises(ProviderError) as info:
        make_provider(credits_per_minute=60).fetch_shares(["AAPL"], d(10))
    assert KEY not in str(info.value)


def test_shares_cost_above_the_minute_budget_is_refused_before_any_call(httpserver, make_provider):
    with pytest.raises(ProviderError, match="costs 50 credits"):
        make_provider().fetch_shares(["AAPL"], d(10))
    assert httpserver.log == []


def test_shares_date_is_today_in_the_exchange_timezone(httpserver, make_provider):
    body = fixture("statistics.json")
    body["meta"]["exchange_timezone"] = "Asia/Tokyo"  # already 2024-01-11 there
    httpserver.expect_request("/statistics").respond_with_json(body)
    provider = make_provider(credits_per_minute=60)
    early = provider.fetch_shares(["AAPL"], d(10))
    assert early.frame.empty and "after 2024-01-10" in early.failures["AAPL"]
    late = provider.fetch_shares(["AAPL"], d(11))
    assert late.frame["date"].tolist() == [pd.Timestamp("2024-01-11")]


def test_statistics_429_waits_for_the_next_minute(httpserver, make_provider, clock):
    httpserver.expect_ordered_request("/statistics").respond_with_json(fixture("error_429_http200.json"))
    httpserver.expect_ordered_request("/statistics").respond_with_json(fixture("statistics.json"))
    result = make_provider(credits_per_minute=60).fetch_shares(["AAPL"], d(10))
    assert result.failures == {}
    # 16 s to the next minute, then the limiter: the first 50 credits leave the window at +60 s.
    assert clock.sleeps == [16.0, 44.0]
    assert result.stats.credits_used == 100


@pytest.mark.parametrize(("symbols", "raises"), [(["AAPL"], False), (["AAPL", "MSFT"], True)])
def test_403_is_per_symbol_alone_but_fatal_for_a_batch(httpserver, make_provider, symbols, raises):
    forbidden = {"code": 403, "message": "This symbol is available starting with the Grow plan.", "status": "error"}
    httpserver.expect_request("/time_series").respond_with_json(forbidden, status=403)
    provider = make_provider(credits_per_minute=120)
    if raises:
        with pytest.raises(ProviderError, match="403"):
            provider.fetch_prices(symbols, d(2), d(5))
    else:
        result = provider.fetch_prices(symbols, d(2), d(5))
        assert "403" in result.failures["AAPL"]

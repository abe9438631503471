"""TwelveData's ownership endpoints against a local fake server. The bodies (fixtures/twelvedata/
insider_transactions.json, institutional_holders.json) are hand-written in the response shape
TwelveData documents (twelvedata.com/docs, "Insider transaction" and "Institutional holders":
``meta`` with symbol, name, currency, exchange, mic_code, exchange_timezone; the rows under the
endpoint's name); ../shared/docs/providers.md does not describe these endpoints."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from autoindex_pipeline.providers.http import RetryPolicy
from autoindex_pipeline.providers.ownership_twelvedata import TwelveDataOwnership
from autoindex_pipeline.providers.prices.base import ProviderError
from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider
from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline_tests.unit.twelvedata_server import KEY, fixture

pytest_plugins = ["autoindex_pipeline_tests.unit.twelvedata_server"]


@pytest.fixture
def provider(make_provider):
    return make_provider(credits_per_minute=2000, credits_per_day=100_000,
                         retry=RetryPolicy(max_attempts=2, base_delay=1.0, max_delay=5.0, jitter=0.0))


def test_insider_rows_credits_and_a_symbol_that_fails(httpserver: HTTPServer, provider):
    httpserver.expect_request("/insider_transactions", query_string="symbol=AAPL").respond_with_json(fixture("insider_transactions.json"))
    httpserver.expect_request("/insider_transactions", query_string="symbol=ZZZZ").respond_with_json(
        {"code": 404, "message": "**symbol** not found: ZZZZ", "status": "error"})
    client = TwelveDataOwnership(provider)
    frame = client.fetch_insider_transactions(["AAPL", "ZZZZ"])
    assert frame["insider"].tolist() == ["COOK TIMOTHY D", "LEVINSON ARTHUR D"]
    assert frame["is_direct"].tolist() == [True, False] and frame["shares"].tolist() == [196410, 50000]
    assert frame["date"].astype(str).tolist() == ["2024-04-01", "2024-02-28"]
    assert client.stats.credits_used == 400 and client.stats.calls == 2  # 200 a symbol, counted
    assert "ZZZZ" in client.failures and "404" in client.failures["ZZZZ"]
    assert all(KEY not in str(v) for v in client.failures.values())


def test_holdings_and_a_plan_without_the_endpoint(httpserver: HTTPServer, provider):
    httpserver.expect_request("/institutional_holders", query_string="symbol=AAPL").respond_with_json(fixture("institutional_holders.json"))
    client = TwelveDataOwnership(provider)
    frame = client.fetch_institutional_holdings(["AAPL"])
    assert frame.loc[0, "holder"] == "Vanguard Group Inc" and frame.loc[0, "percent_held"] == pytest.approx(0.0866)
    assert client.stats.credits_used == 1500
    httpserver.expect_request("/insider_transactions", query_string="symbol=MSFT").respond_with_json(
        {"code": 403, "message": "/insider_transactions is available exclusively with pro or enterprise plans.",
         "status": "error"})
    with pytest.raises(ProviderError, match="403 on /insider_transactions: .*pro or enterprise"):
        client.fetch_insider_transactions(["MSFT", "KO"])
    assert not any(b"symbol=KO" in request.query_string for request, _ in httpserver.log)  # one 403 stops the fetch


def test_a_call_above_the_plans_credits_per_minute_is_refused_before_any_request(httpserver: HTTPServer):
    cheap = TwelveDataProvider(KEY, base_url=httpserver.url_for(""), credits_per_minute=8)
    try:
        with pytest.raises(PlanLimitExceeded, match="costs 200 credits per symbol but the plan allows 8"):
            TwelveDataOwnership(cheap).fetch_insider_transactions(["AAPL"])
    finally:
        cheap.close()
    assert len(httpserver.log) == 0

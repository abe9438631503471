"""The shared HTTP policy: limiter arithmetic in fake time, retries against a local server,
call counting and redaction."""

from __future__ import annotations

import logging
import threading

import httpx
import pytest
from pytest_httpserver import HTTPServer

from autoindex_pipeline.providers.http import (
    REDACTED,
    Classification,
    HttpClient,
    QuotaExhausted,
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    Verdict,
    redact,
)
from autoindex_pipeline.providers.prices.base import CallStats, ProviderError
from autoindex_pipeline_tests.fakes import FakeClock

SECRET = "sk-test/SECRET+key=42"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _no_unmatched_requests(httpserver: HTTPServer):
    yield
    # An unmatched request is answered 500 and would be retried silently: fail loudly instead.
    httpserver.check_assertions()


def make_client(server: HTTPServer, clock: FakeClock, **kwargs) -> HttpClient:
    kwargs.setdefault("retry", RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, jitter=0.0))
    return HttpClient(
        server.url_for(""),
        name="test",
        secrets=[SECRET],
        timeout=kwargs.pop("timeout", 2.0),
        sleep=clock.sleep,
        **kwargs,
    )


# --------------------------------------------------------------------------------------------
# redact


def test_redact_replaces_plain_and_url_encoded_forms():
    text = f"GET /x?apikey={SECRET} and again /y?k=sk-test%2FSECRET%2Bkey%3D42 or sk-test%2FSECRET%2Bkey%3D42"
    out = redact(text, [SECRET, None, ""])
    assert SECRET not in out
    assert "SECRET" not in out
    assert out.count(REDACTED) == 3


def test_redact_without_secrets_is_identity():
    assert redact("nothing here", []) == "nothing here"


# --------------------------------------------------------------------------------------------
# RateLimiter


def test_nine_credits_at_eight_per_minute_wait_a_minute(clock):
    limiter = RateLimiter(8, 800, clock=clock, sleep=clock.sleep)
    assert limiter.acquire(8) == 0.0
    waited = limiter.acquire(1)
    assert waited == pytest.approx(60.0)
    assert clock.sleeps == [pytest.approx(60.0)]
    assert limiter.used_today == 9


def test_sliding_window_waits_only_for_the_oldest_spends_needed(clock):
    limiter = RateLimiter(8, clock=clock, sleep=clock.sleep)
    limiter.acquire(5)  # t=0
    clock.now += 30
    limiter.acquire(3)  # t=30, window full
    clock.now += 10
    # Needs 2 free: the 5 spent at t=0 leave at t=60, i.e. 20 s from now.
    assert limiter.acquire(2) == pytest.approx(20.0)
    # t=60, window holds 3 (t=30) + 2 (t=60): 3 more fit at once...
    assert limiter.acquire(3) == 0.0
    # ...and 1 more needs the t=30 spend gone, at t=90.
    assert limiter.acquire(1) == pytest.approx(30.0)


def test_spends_older_than_the_window_are_forgotten(clock):
    limiter = RateLimiter(8, clock=clock, sleep=clock.sleep)
    limiter.acquire(8)
    clock.now += 61
    assert limiter.acquire(8) == 0.0
    assert clock.sleeps == []


def test_daily_budget_exhaustion_raises_instead_of_sleeping(clock):
    limiter = RateLimiter(8, 10, clock=clock, sleep=clock.sleep)
    limiter.acquire(8)
    limiter.acquire(2)  # waits a minute, day total now 10
    sleeps_before = list(clock.sleeps)
    with pytest.raises(QuotaExhausted) as info:
        limiter.acquire(1)
    assert isinstance(info.value, ProviderError)
    assert "daily budget of 10 credits exhausted" in str(info.value)
    assert clock.sleeps == sleeps_before  # no day-long sleep
    assert limiter.remaining_today == 0


def test_daily_budget_resets_at_utc_midnight():
    clock = FakeClock(now=86_400.0 * 19_732 - 5)  # 5 s before a UTC midnight
    limiter = RateLimiter(100, 10, unit="requests", clock=clock, sleep=clock.sleep)
    limiter.acquire(10)
    with pytest.raises(QuotaExhausted, match="requests"):
        limiter.acquire(1)
    clock.now += 10
    assert limiter.acquire(1) == 0.0
    assert limiter.used_today == 1


def test_cost_above_the_minute_budget_is_a_programming_error(clock):
    limiter = RateLimiter(8, clock=clock, sleep=clock.sleep)
    with pytest.raises(ValueError, match="exceeds"):
        limiter.acquire(9)
    assert limiter.acquire(0) == 0.0


def test_limiter_is_thread_safe(clock):
    limiter = RateLimiter(100_000, 100_000, clock=clock, sleep=clock.sleep)

    def spend() -> None:
        for _ in range(250):
            limiter.acquire(1)

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert limiter.used_today == 2000


# --------------------------------------------------------------------------------------------
# RetryPolicy


def test_backoff_is_exponential_and_capped():
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=10.0, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_backoff_jitter_stays_within_bounds():
    policy = RetryPolicy(base_delay=2.0, max_delay=5.0, jitter=1.0)
    waits = [policy.backoff(1) for _ in range(200)]
    assert all(2.0 <= w <= 3.0 for w in waits)
    assert len(set(waits)) > 1
    assert all(policy.backoff(5) <= 5.0 for _ in range(50))


def test_retry_after_replaces_backoff_but_is_capped():
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, jitter=0.0)
    assert policy.wait_for(1, 7.0) == 7.0
    assert policy.wait_for(1, 999.0) == 30.0
    assert policy.wait_for(3, None) == 4.0


def test_retry_policy_validates():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --------------------------------------------------------------------------------------------
# HttpClient against the local fake server


def test_500_then_success_is_retried_and_counted(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": True})
    stats = CallStats()
    with make_client(httpserver, clock) as client:
        response = client.get("/x", stats=stats)
    assert response.json() == {"ok": True}
    assert (stats.calls, stats.succeeded, stats.failed, stats.retried) == (2, 1, 1, 1)
    assert stats.success_rate == 0.5
    assert clock.sleeps == [1.0]


def test_retry_after_header_is_honoured(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_data("slow down", status=429, headers={"Retry-After": "7"})
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": True})
    stats = CallStats()
    with make_client(httpserver, clock) as client:
        client.get("/x", stats=stats)
    assert clock.sleeps == [7.0]


def test_retry_after_is_capped_by_max_delay(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_data("", status=503, headers={"Retry-After": "3600"})
    httpserver.expect_ordered_request("/x").respond_with_json({})
    with make_client(httpserver, clock) as client:
        client.get("/x", stats=CallStats())
    assert clock.sleeps == [30.0]


@pytest.mark.parametrize("status", [400, 403, 404])
def test_4xx_that_will_not_change_is_not_retried(httpserver, clock, status):
    httpserver.expect_request("/x").respond_with_json({"error": "nope"}, status=status)
    stats = CallStats()
    with make_client(httpserver, clock) as client:
        response = client.get("/x", stats=stats)
    assert response.status_code == status
    assert (stats.calls, stats.succeeded, stats.failed, stats.retried) == (1, 0, 1, 0)
    assert clock.sleeps == []


def test_401_is_fatal_at_once(httpserver, clock):
    httpserver.expect_request("/x").respond_with_json({"error": "bad key"}, status=401)
    stats = CallStats()
    with make_client(httpserver, clock) as client, pytest.raises(ProviderError, match="401"):
        client.get("/x", stats=stats)
    assert stats.calls == 1
    assert clock.sleeps == []


def test_retries_are_bounded(httpserver, clock):
    httpserver.expect_request("/x").respond_with_data("down", status=503)
    stats = CallStats()
    with make_client(httpserver, clock) as client, pytest.raises(RetriesExhausted) as info:
        client.get("/x", stats=stats)
    assert "HTTP 503" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)
    assert (stats.calls, stats.failed, stats.retried) == (3, 3, 2)
    assert clock.sleeps == [1.0, 2.0]
    assert info.value.__cause__ is None and info.value.__context__ is None


def test_classifier_can_declare_a_200_body_retryable(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_json({"status": "busy"})
    httpserver.expect_ordered_request("/x").respond_with_json({"status": "ok"})

    def classify(response: httpx.Response) -> Classification | None:
        if response.json()["status"] == "busy":
            return Classification(Verdict.RETRY, "provider busy", retry_after=3.0)
        return None

    stats = CallStats()
    with make_client(httpserver, clock) as client:
        response = client.get("/x", stats=stats, classify=classify)
    assert response.json() == {"status": "ok"}
    assert clock.sleeps == [3.0]
    assert stats.retried == 1


def test_timeout_then_success(clock):
    # The transport raises what httpx raises when the read deadline passes, so the test never
    # races a real clock against a sleeping server on a busy machine.
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"ok": True})

    stats = CallStats()
    client = HttpClient(
        "http://provider.invalid",
        name="test",
        secrets=[SECRET],
        retry=RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, jitter=0.0),
        sleep=clock.sleep,
        transport=httpx.MockTransport(handler),
    )
    with client:
        response = client.get("/slow", stats=stats)
    assert response.json() == {"ok": True}
    assert (stats.calls, stats.succeeded, stats.failed, stats.retried) == (2, 1, 1, 1)
    assert clock.sleeps == [1.0]


def test_transport_error_is_retried_and_the_secret_never_shows(clock):
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    stats = CallStats()
    client = HttpClient(
        "http://provider.invalid",
        secrets=[SECRET],
        retry=RetryPolicy(max_attempts=2, base_delay=0.5, jitter=0.0),
        sleep=clock.sleep,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(RetriesExhausted) as info:
        client.get("/news", {"api_token": SECRET}, stats=stats)
    message = str(info.value)
    assert "transport error" in message and "ConnectError" in message
    assert SECRET not in message and "SECRET" not in message
    assert REDACTED in message
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert (stats.calls, stats.failed, stats.retried) == (2, 2, 1)


def test_secret_in_a_query_string_never_reaches_the_log(httpserver, clock, caplog):
    # Marketaux only accepts its token as a query parameter; httpx logs every URL at INFO.
    httpserver.expect_ordered_request("/news").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/news").respond_with_json({"data": []})
    caplog.set_level(logging.DEBUG)
    with make_client(httpserver, clock) as client:
        client.get("/news", {"api_token": SECRET, "symbols": "AAPL"}, stats=CallStats())
    # The fake server's own access log (werkzeug) is the provider's side, not ours.
    client_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert "HTTP Request" in client_side  # httpx did log the request...
    assert "SECRET" not in client_side  # ...without the token
    assert "retrying" in client_side


def test_limiter_is_paid_for_every_attempt(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_data("", status=500)
    httpserver.expect_ordered_request("/x").respond_with_json({})
    limiter = RateLimiter(2, 100, clock=clock, sleep=clock.sleep)
    stats = CallStats()
    with make_client(httpserver, clock, limiter=limiter) as client:
        client.get("/x", stats=stats, cost=2)
    assert stats.credits_used == 4
    assert limiter.used_today == 4
    # 1 s backoff, then the limiter waits out the rest of the minute for the second spend.
    assert clock.sleeps == [1.0, pytest.approx(59.0)]


def test_quota_exhaustion_propagates_without_a_call(httpserver, clock):
    limiter = RateLimiter(8, 1, clock=clock, sleep=clock.sleep)
    limiter.acquire(1)
    stats = CallStats()
    with make_client(httpserver, clock, limiter=limiter) as client, pytest.raises(QuotaExhausted):
        client.get("/x", stats=stats, cost=1)
    assert stats.calls == 0
    assert httpserver.log == []


def test_call_stats_success_rate_and_metadata():
    stats = CallStats()
    assert stats.success_rate is None
    stats.calls, stats.succeeded, stats.failed, stats.retried, stats.credits_used = 4, 3, 1, 1, 12
    assert stats.success_rate == 0.75
    assert stats.as_metadata()["provider_credits_used"] == 12
    other = CallStats(calls=1, succeeded=1)
    stats.merge(other)
    assert stats.success_rate == 0.8


def test_client_repr_has_no_secret(clock):
    client = HttpClient("http://x", headers={"Authorization": f"apikey {SECRET}"}, secrets=[SECRET])
    assert SECRET not in repr(client)
    client.close()


# --------------------------------------------------------------------------------------------
# what a slow run tells: retries and rate-limit waits are counted and logged with their length


def test_rate_limit_waits_are_logged_with_their_length_and_counted(httpserver, clock, caplog):
    httpserver.expect_request("/x").respond_with_json({"ok": True})
    stats = CallStats()
    limiter = RateLimiter(per_minute=2, clock=clock, sleep=clock.sleep)
    with caplog.at_level("INFO", logger="autoindex_pipeline.providers.http"), make_client(httpserver, clock, limiter=limiter) as client:
        for _ in range(3):
            client.get("/x", stats=stats, cost=1)
    assert clock.sleeps == [60.0]
    assert (stats.rate_limit_waits, stats.rate_limit_wait_seconds) == (1, 60.0)
    lines = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert lines == ["test rate limit: waited 60.0s before GET /x (1 credits; budget 2 per minute)"]
    assert stats.as_metadata()["provider_rate_limit_wait_seconds"] == 60.0


def test_retry_backoff_time_is_counted(httpserver, clock):
    httpserver.expect_ordered_request("/x").respond_with_data("boom", status=500)
    httpserver.expect_ordered_request("/x").respond_with_data("boom", status=503)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": True})
    stats = CallStats()
    with make_client(httpserver, clock) as client:
        client.get("/x", stats=stats)
    assert stats.retried == 2 and stats.retry_wait_seconds == 3.0  # 1 s, then 2 s
    assert stats.as_metadata()["provider_retry_wait_seconds"] == 3.0

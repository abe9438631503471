"""The HTTP policy every provider client shares: rate limiting, retries, call counting, redaction.

Providers differ in what a response means (TwelveData reports errors inside HTTP 200 bodies,
Marketaux uses HTTP statuses) but not in how a call should behave, so the behaviour lives here
and a provider only supplies a ``classify`` callback that reads its own bodies:

* a client-side :class:`RateLimiter` in the provider's own unit, acquired before *every* attempt,
  because a retried request spends credits again on the provider's side;
* bounded retries (``tenacity``) with exponential backoff and jitter on timeouts, transport
  errors, 429 and 5xx, honouring ``Retry-After``; never on 4xx that will not change;
* every attempt counted into a :class:`~autoindex_pipeline.providers.prices.base.CallStats`;
* secrets kept out of logs, exception text and metadata: messages built from URLs or bodies go
  through :func:`redact`, exceptions are raised outside ``except`` blocks so no chained httpx
  exception (whose text carries the URL) rides along, and httpx's own request log is filtered.

No Dagster import: this module is used from plain scripts and tests as well.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from autoindex_pipeline.providers.prices.base import CallStats, ProviderError

logger = logging.getLogger(__name__)

REDACTED = "***"
SECONDS_PER_DAY = 86_400.0

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class QuotaExhausted(ProviderError):
    """The per-day budget is spent; waiting inside this run will not help."""


class RetriesExhausted(ProviderError):
    """Every allowed attempt failed with a retryable problem; ``reason`` is the last one."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.reason = reason
        self.attempts = attempts


# --------------------------------------------------------------------------------------------
# Secrets


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every secret replaced by ``***``.

    URL-encoded spellings are replaced too, since a key echoed inside a URL or a query string is
    percent-encoded when it holds reserved characters.
    """
    out = str(text)
    for secret in secrets:
        if not secret:
            continue
        # Longest spelling first so a shorter one cannot split a longer match.
        forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="/")}
        for form in sorted(forms, key=len, reverse=True):
            out = out.replace(form, REDACTED)
    return out


class _RedactingFilter(logging.Filter):
    """Rewrites records of third-party loggers (httpx logs every request URL at INFO) so a key
    that had to travel in a query string never reaches a handler."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = tuple(self._secrets)
        if not secrets:
            return True
        message = record.getMessage()
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_REDACTING_FILTER = _RedactingFilter()
# Logger-level filters only see records created by that exact logger, so each one is named.
_THIRD_PARTY_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
for _name in _THIRD_PARTY_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTING_FILTER)


def register_secrets(secrets: Iterable[str]) -> None:
    """Make the third-party log filter redact these values from now on (process-wide)."""
    _REDACTING_FILTER.add(secrets)


# --------------------------------------------------------------------------------------------
# Rate limiting


class RateLimiter:
    """Client-side budget in the provider's own unit (credits or requests).

    The per-minute budget is a sliding 60-second window: ``acquire`` sleeps until enough of the
    oldest spends have left it. The per-day budget resets at 00:00 UTC (when the providers reset
    theirs) and is never waited for: a run that would need to sleep until tomorrow should stop
    and say so, hence :class:`QuotaExhausted`.

    It only sees this process's spending; another process on the same key is invisible, which is
    why the provider's own 429 is still retried. The lock is held while sleeping on purpose:
    waiting callers would have to wait anyway, and it keeps the window arithmetic simple.

    ``clock`` must return wall-clock epoch seconds (``time.time``) for the UTC day to be right;
    tests inject a fake clock and a ``sleep`` that advances it.
    """

    def __init__(
        self,
        per_minute: int,
        per_day: int | None = None,
        *,
        unit: str = "credits",
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        window_seconds: float = 60.0,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        if per_day is not None and per_day <= 0:
            raise ValueError("per_day must be positive or None")
        self.per_minute = int(per_minute)
        self.per_day = None if per_day is None else int(per_day)
        self.unit = unit
        self.window_seconds = float(window_seconds)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._window: deque[tuple[float, int]] = deque()
        self._window_used = 0
        self._day: int | None = None
        self._day_used = 0

    @property
    def used_today(self) -> int:
        with self._lock:
            self._roll_day(self._clock())
            return self._day_used

    @property
    def remaining_today(self) -> int | None:
        if self.per_day is None:
            return None
        return max(0, self.per_day - self.used_today)

    def acquire(self, cost: int = 1) -> float:
        """Reserve ``cost`` units, sleeping as needed; returns the seconds slept."""
        cost = int(cost)
        if cost <= 0:
            return 0.0
        if cost > self.per_minute:
            # It could never fit in the window; sleeping forever helps nobody.
            raise ValueError(
                f"a call costing {cost} {self.unit} exceeds the budget of {self.per_minute} {self.unit} per minute"
            )
        waited = 0.0
        with self._lock:
            while True:
                now = self._clock()
                self._roll_day(now)
                if self.per_day is not None and self._day_used + cost > self.per_day:
                    raise QuotaExhausted(
                        f"daily budget of {self.per_day} {self.unit} exhausted "
                        f"({self._day_used} used, {cost} more needed); it resets at 00:00 UTC"
                    )
                self._evict(now)
                if self._window_used + cost <= self.per_minute:
                    self._window.append((now, cost))
                    self._window_used += cost
                    self._day_used += cost
                    return waited
                wait = self._seconds_until_room(now, cost)
                self._sleep(wait)
                waited += wait

    def _roll_day(self, now: float) -> None:
        day = int(now // SECONDS_PER_DAY)
        if day != self._day:
            self._day, self._day_used = day, 0

    def _evict(self, now: float) -> None:
        horizon = now - self.window_seconds
        while self._window and self._window[0][0] <= horizon:
            self._window_used -= self._window.popleft()[1]

    def _seconds_until_room(self, now: float, cost: int) -> float:
        needed = self._window_used + cost - self.per_minute
        freed = 0
        for stamp, spent in self._window:
            freed += spent
            if freed >= needed:
                return max(0.0, stamp + self.window_seconds - now)
        return self.window_seconds  # unreachable while cost <= per_minute; kept as a safe bound


# --------------------------------------------------------------------------------------------
# Retries


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries: ``max_attempts`` counts the first try; delays are in seconds.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1)) + uniform(0, jitter)``, capped
    at ``max_delay``; a ``Retry-After`` from the server replaces the computed wait (also capped).
    """

    max_attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay, self.max_delay, self.jitter) < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Wait before retry number ``retry_number`` (1 for the first retry)."""
        exponential = min(self.max_delay, self.base_delay * (2 ** max(0, retry_number - 1)))
        spread = (rng or random).uniform(0.0, self.jitter) if self.jitter else 0.0
        return min(self.max_delay, exponential + spread)

    def wait_for(self, retry_number: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        if retry_after is not None:
            return min(self.max_delay, max(0.0, retry_after))
        return self.backoff(retry_number, rng)


class Verdict(enum.Enum):
    OK = "ok"  # usable; counted as succeeded
    RETRY = "retry"  # transient; try again if attempts remain
    FAIL = "fail"  # final but not fatal (bad symbol...): returned to the caller to read
    FATAL = "fatal"  # nothing else will work either (bad key): raise ProviderError now


@dataclass(frozen=True)
class Classification:
    verdict: Verdict
    reason: str = ""
    retry_after: float | None = None


ResponseClassifier = Callable[[httpx.Response], Classification | None]
"""Reads a response the provider's way; ``None`` falls back to :func:`classify_status`."""

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def classify_status(response: httpx.Response) -> Classification:
    """The status-code-only reading, for providers whose statuses can be trusted."""
    status = response.status_code
    if 200 <= status < 300:
        return Classification(Verdict.OK)
    if status in RETRYABLE_STATUSES or status >= 500:
        return Classification(Verdict.RETRY, f"HTTP {status}")
    if status == 401:
        return Classification(Verdict.FATAL, "HTTP 401: credentials rejected")
    return Classification(Verdict.FAIL, f"HTTP {status}")


def parse_retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds, or None when absent or not a number (HTTP dates are rare
    from these APIs and would need a trustworthy wall clock to interpret)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


class _RetryableAttempt(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HttpClient:
    """One provider's HTTP session: base URL, auth headers, limiter, retry policy, redaction.

    ``secrets`` are every value that must never be shown (the API key); they are redacted from
    all messages this client builds and from httpx's log records. ``transport`` lets tests swap
    the network for an :class:`httpx.MockTransport`; ``base_url`` lets them use a local server.
    """

    def __init__(
        self,
        base_url: str,
        *,
        name: str = "provider",
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name = name
        self.retry = retry or RetryPolicy()
        self.limiter = limiter
        self._secrets = tuple(s for s in secrets if s)
        register_secrets(self._secrets)
        self._sleep = sleep
        self._rng = rng
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers=dict(headers or {}),
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HttpClient(name={self.name!r}, base_url={str(self._client.base_url)!r})"

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        stats: CallStats,
        cost: int = 0,
        classify: ResponseClassifier | None = None,
    ) -> httpx.Response:
        """GET with limiter, retries and counting.

        Returns the response when the classifier says OK or FAIL (the caller reads the body).
        Raises :class:`RetriesExhausted` when every attempt was retryable, :class:`QuotaExhausted`
        when the limiter's day budget is spent, and :class:`ProviderError` on a FATAL verdict.
        All messages are redacted.
        """
        policy = self.retry

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = exc.retry_after if isinstance(exc, _RetryableAttempt) else None
            return policy.wait_for(state.attempt_number, retry_after, self._rng)

        def before_sleep(state: RetryCallState) -> None:
            stats.retried += 1
            stats.retry_wait_seconds += state.upcoming_sleep
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "%s GET %s attempt %d/%d failed (%s); retrying in %.1fs (plus any rate-limit wait, logged apart)",
                self.name,
                path,
                state.attempt_number,
                policy.max_attempts,
                exc.reason if isinstance(exc, _RetryableAttempt) else "retryable error",
                state.upcoming_sleep,
            )

        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts),
            wait=wait,
            retry=retry_if_exception_type(_RetryableAttempt),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        failure: _RetryableAttempt | None = None
        try:
            return retrying(self._attempt, path, params, stats, cost, classify)
        except _RetryableAttempt as exc:
            failure = exc
        # Raised out here so the httpx exception (its text holds the URL) is not chained on.
        raise RetriesExhausted(self.redact(failure.reason), policy.max_attempts)

    def _attempt(
        self,
        path: str,
        params: Mapping[str, Any] | None,
        stats: CallStats,
        cost: int,
        classify: ResponseClassifier | None,
    ) -> httpx.Response:
        if self.limiter is not None and cost:
            waited = self.limiter.acquire(cost)
            if waited > 0:
                stats.rate_limit_waits += 1
                stats.rate_limit_wait_seconds += waited
                # In the run's log (python_logs in dagster.yaml), so a slow run explains itself.
                logger.info(
                    "%s rate limit: waited %.1fs before GET %s (%d %s; budget %d per minute)",
                    self.name, waited, path, cost, self.limiter.unit, self.limiter.per_minute,
                )
        stats.calls += 1
        stats.credits_used += cost
        transport_problem: str | None = None
        try:
            response = self._client.get(path, params=dict(params or {}))
        except (httpx.TransportError, httpx.DecodingError) as exc:
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "transport error"
            transport_problem = self.redact(f"{kind}: {type(exc).__name__}: {exc}")
        if transport_problem is not None:
            stats.failed += 1
            raise _RetryableAttempt(transport_problem)

        verdict = (classify(response) if classify is not None else None) or classify_status(response)
        if verdict.verdict is Verdict.OK:
            stats.succeeded += 1
            return response
        stats.failed += 1
        reason = self.redact(verdict.reason or f"HTTP {response.status_code}")
        if verdict.verdict is Verdict.RETRY:
            retry_after = verdict.retry_after if verdict.retry_after is not None else parse_retry_after(response)
            raise _RetryableAttempt(reason, retry_after)
        if verdict.verdict is Verdict.FATAL:
            raise ProviderError(f"{self.name}: {reason}")
        return response

"""TwelveData shares outstanding: ``GET /statistics``, one symbol per call.

A fundamentals endpoint billed far above a time series (TwelveData lists it at 50 credits a
call) and only on paid plans, so what a plan can afford is part of the client: a call costing
more than the plan's credits per minute is refused before any request
(:class:`PlanLimitExceeded`), and :func:`shares_plan_limit` lets a caller find that out
without building a client. Point-in-time honest: the endpoint only knows today's figure, so a
request for an earlier ``end`` returns nothing (and says why) rather than back-filling the past
with today's share count.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pandas as pd

from autoindex_pipeline.providers.http import HttpClient, QuotaExhausted, RetriesExhausted
from autoindex_pipeline.providers.prices.base import CallStats, FetchResult, ProviderError, normalize_shares_frame
from autoindex_pipeline.providers.prices.twelvedata_wire import (
    EXCHANGE_TIMEZONE,
    SOURCE,
    _error_code,
    _is_error,
    _json_object,
    _payload_classifier,
    _today_in,
    _unique,
)

# /statistics is a fundamentals endpoint billed per symbol well above a time series; TwelveData
# lists it at 50 credits. Plans and prices change, hence a constructor argument.
DEFAULT_STATISTICS_CREDITS = 50


class PlanLimitExceeded(ProviderError):
    """One call costs more credits than the plan allows per minute: the API would refuse it."""


def shares_plan_limit(statistics_credits: int, credits_per_minute: int) -> str | None:
    """Why one /statistics call cannot fit the plan, or None when it can."""
    if statistics_credits > credits_per_minute:
        return (
            f"twelvedata: /statistics costs {statistics_credits} credits but the plan allows "
            f"{credits_per_minute} per minute; use a file source for shares outstanding"
        )
    return None


class StatisticsClient:
    """Shares outstanding over the provider's HTTP client (limiter, retries, redaction shared
    with the time series, so both spend from one credit budget)."""

    def __init__(
        self,
        http: HttpClient,
        *,
        statistics_credits: int,
        credits_per_minute: int,
        clock: Callable[[], float],
        credits_reset: Callable[[], float],
    ) -> None:
        self._http = http
        self.statistics_credits = int(statistics_credits)
        self.credits_per_minute = int(credits_per_minute)
        self._clock = clock
        self._credits_reset = credits_reset

    def fetch_shares(self, symbols: Sequence[str], end: dt.date) -> FetchResult:
        wanted = _unique(symbols)
        stats = CallStats()
        failures: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        today = _today_in(self._clock, EXCHANGE_TIMEZONE)
        if end < today:
            # Not worth the credits: today's figure must not be stamped onto an earlier date.
            reason = (
                f"TwelveData /statistics only gives the current shares outstanding (known from {today}); "
                f"it cannot say what was known on {end}"
            )
            return FetchResult(self._shares_frame(rows), {s: reason for s in wanted}, stats)
        problem = shares_plan_limit(self.statistics_credits, self.credits_per_minute)
        if problem is not None:
            raise PlanLimitExceeded(problem)
        for index, symbol in enumerate(wanted):
            try:
                response = self._http.get(
                    "/statistics",
                    {"symbol": symbol},
                    stats=stats,
                    cost=self.statistics_credits,
                    classify=_payload_classifier("statistics", dict, self._credits_reset),
                )
            except RetriesExhausted as exc:
                failures[symbol] = str(exc)
                continue
            except QuotaExhausted as exc:
                for rest in wanted[index:]:
                    failures[rest] = f"not requested: {exc}"
                break
            row, reason = self._parse_statistics(symbol, response, end)
            if row is None:
                failures[symbol] = reason
            else:
                rows.append(row)
        return FetchResult(self._shares_frame(rows), failures, stats)

    def _parse_statistics(
        self, symbol: str, response: httpx.Response, end: dt.date
    ) -> tuple[dict[str, Any] | None, str]:
        body, problem = _json_object(response)
        if body is None:
            return None, str(problem)
        if _is_error(body):
            code = _error_code(body, response.status_code)
            message = self._http.redact(str(body.get("message", "no message")))
            if code == 403:
                return None, f"TwelveData 403: the plan does not include fundamentals ({message})"
            return None, f"TwelveData error {code}: {message}"
        stock = (body.get("statistics") or {}).get("stock_statistics") or {}
        value = stock.get("shares_outstanding") if isinstance(stock, dict) else None
        try:
            shares = float(value)
        except (TypeError, ValueError):
            return None, "no shares_outstanding in the /statistics response"
        if not shares > 0:
            return None, f"implausible shares_outstanding {value!r}"
        meta = body.get("meta") or {}
        tz_name = meta.get("exchange_timezone") if isinstance(meta, dict) else None
        known_from = _today_in(self._clock, tz_name or EXCHANGE_TIMEZONE)
        if known_from > end:
            # An exchange east of New York may already be on tomorrow's date.
            return None, f"shares outstanding known from {known_from}, after {end}"
        return {"symbol": symbol, "date": known_from, "shares_outstanding": shares}, ""

    @staticmethod
    def _shares_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(rows, columns=["symbol", "date", "shares_outstanding"])
        return normalize_shares_frame(frame, source=SOURCE)

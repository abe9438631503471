"""TwelveData corporate actions: ``GET /splits`` and ``GET /dividends``, one symbol per call.

Why the pipeline needs them: TwelveData's daily series are split-adjusted, so rows stored before a
split are at the old scale and rows fetched after it at the new one. The events say where that
happens (methodology section 2a).

Wire shapes (hand-recorded fixtures in ``autoindex_pipeline_tests/fixtures/twelvedata``):

* ``/splits?symbol=AAPL&start_date=...&end_date=...`` ->
  ``{"meta": {...}, "splits": [{"date": "2020-08-31", "description": "4-for-1 split",
  "ratio": 0.25, "from_factor": 4, "to_factor": 1}]}``: ``ratio`` is TwelveData's price factor
  (old -> new price), so new shares per old share is ``from_factor / to_factor`` (= 1 / ratio);
* ``/dividends?symbol=AAPL&start_date=...&end_date=...`` ->
  ``{"meta": {"currency": "USD", ...}, "dividends": [{"ex_date": "2024-05-10", "amount": 0.25}]}``;
* errors as every endpoint: ``{"code", "message", "status": "error"}``, under HTTP 200 too.

Both are reference endpoints billed per symbol above a time series; the credits per call are
constructor arguments (default 20 each). On the shared HTTP client: the limiter spends from the
same budget as the prices, retries and redaction are the shared policy, every attempt is counted.
A call costing more than the plan's credits per minute would be refused by the API: the client
refuses it first (:class:`~.twelvedata_shares.PlanLimitExceeded`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pandas as pd

from autoindex_pipeline.providers.http import HttpClient, QuotaExhausted, RetriesExhausted
from autoindex_pipeline.providers.prices.base import (
    CallStats,
    FetchResult,
    empty_corporate_actions_frame,
    normalize_corporate_actions_frame,
)
from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline.providers.prices.twelvedata_wire import (
    SOURCE,
    _error_code,
    _is_error,
    _json_object,
    _payload_classifier,
    _unique,
)

DEFAULT_SPLITS_CREDITS = 20
DEFAULT_DIVIDENDS_CREDITS = 20


class CorporateActionsClient:
    """Splits and dividends over the provider's HTTP client."""

    def __init__(
        self,
        http: HttpClient,
        *,
        splits_credits: int,
        dividends_credits: int,
        credits_per_minute: int,
        credits_reset: Callable[[], float],
    ) -> None:
        self._http = http
        self.costs = {"splits": int(splits_credits), "dividends": int(dividends_credits)}
        self.credits_per_minute = int(credits_per_minute)
        self._credits_reset = credits_reset

    def fetch_corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        wanted = _unique(symbols)
        for endpoint, cost in self.costs.items():
            if cost > self.credits_per_minute:
                raise PlanLimitExceeded(
                    f"twelvedata: /{endpoint} costs {cost} credits but the plan allows {self.credits_per_minute} "
                    "per minute; use the files provider's corporate_actions file"
                )
        stats = CallStats()
        failures: dict[str, str] = {}
        rows: list[dict[str, Any]] = []
        params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        for index, symbol in enumerate(wanted):
            symbol_rows: list[dict[str, Any]] = []
            for endpoint in self.costs:
                try:
                    response = self._http.get(
                        f"/{endpoint}", {"symbol": symbol, **params}, stats=stats, cost=self.costs[endpoint],
                        classify=_payload_classifier(endpoint, list, self._credits_reset),
                    )
                except RetriesExhausted as exc:
                    failures[symbol] = str(exc)
                    break
                except QuotaExhausted as exc:
                    for rest in wanted[index:]:
                        failures[rest] = f"not requested: {exc}"
                    return self._result(rows, failures, stats)
                parsed, reason = self._parse(endpoint, symbol, response, start, end)
                if parsed is None:
                    failures[symbol] = reason
                    break
                symbol_rows += parsed
            else:
                # A symbol counts only with both answers: half its events would look like all of them.
                rows += symbol_rows
        return self._result(rows, failures, stats)

    def _parse(
        self, endpoint: str, symbol: str, response: httpx.Response, start: dt.date, end: dt.date
    ) -> tuple[list[dict[str, Any]] | None, str]:
        body, problem = _json_object(response)
        if body is None:
            return None, str(problem)
        if _is_error(body):
            code = _error_code(body, response.status_code)
            return None, f"TwelveData error {code} on /{endpoint}: {self._http.redact(str(body.get('message', 'no message')))}"
        entries = body.get(endpoint)
        if not isinstance(entries, list):
            return None, f"malformed /{endpoint} response: no '{endpoint}' list"
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        out = []
        for entry in entries:
            try:
                row = _split_row(symbol, entry) if endpoint == "splits" else _dividend_row(symbol, entry, meta.get("currency"))
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                return None, f"malformed /{endpoint} entry {entry!r}: {exc}"
            if start <= row["ex_date"] <= end:
                out.append(row)
        return out, ""

    @staticmethod
    def _result(rows: list[dict[str, Any]], failures: dict[str, str], stats: CallStats) -> FetchResult:
        if not rows:
            return FetchResult(empty_corporate_actions_frame(SOURCE), failures, stats)
        return FetchResult(normalize_corporate_actions_frame(pd.DataFrame.from_records(rows), SOURCE), failures, stats)


def _split_row(symbol: str, entry: dict[str, Any]) -> dict[str, Any]:
    ex_date = dt.date.fromisoformat(str(entry["date"])[:10])
    if entry.get("from_factor") not in (None, "") and entry.get("to_factor") not in (None, ""):
        ratio = float(entry["from_factor"]) / float(entry["to_factor"])
    else:
        ratio = 1.0 / float(entry["ratio"])
    if not ratio > 0:
        raise ValueError(f"split ratio {ratio!r} is not > 0")
    return {"symbol": symbol, "ex_date": ex_date, "kind": "split", "ratio": ratio, "amount": None, "currency": None}


def _dividend_row(symbol: str, entry: dict[str, Any], currency: object) -> dict[str, Any]:
    amount = float(entry["amount"])
    if not amount >= 0:
        raise ValueError(f"dividend amount {amount!r} is not >= 0")
    ex_date = dt.date.fromisoformat(str(entry["ex_date"])[:10])
    return {"symbol": symbol, "ex_date": ex_date, "kind": "dividend", "ratio": None, "amount": amount,
            "currency": None if currency in (None, "") else str(currency)}

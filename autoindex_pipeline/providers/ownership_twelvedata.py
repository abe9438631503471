"""TwelveData ownership endpoints: ``GET /insider_transactions`` and ``GET /institutional_holders``,
one symbol per call, over the TwelveData provider's own HTTP client (its limiter spends the same
credit budget as the prices; retries, redaction and call counts are the shared policy).

Wire shapes as TwelveData documents them (no recorded response exists in this repository: the
tests' bodies are written from that documentation, not captured):

* ``/insider_transactions?symbol=AAPL`` -> ``{"meta": {...}, "insider_transactions": [{"full_name",
  "position", "date_reported", "is_direct", "shares", "value", "description"}]}``;
* ``/institutional_holders?symbol=AAPL`` -> ``{"meta": {...}, "institutional_holders":
  [{"entity_name", "date_reported", "shares", "value", "percent_held"}]}``;
* errors as every endpoint: ``{"code", "message", "status": "error"}``; 403 = the plan lacks the
  endpoint (both are on the high-tier plans), which fails the fetch with that message instead of
  one failure per symbol.

Credits per call are settings (``providers.twelvedata.insider_credits_per_call``, 200, and
``institutional_credits_per_call``, 1500). A call costing more than the plan's credits per minute
is refused before any request (:class:`~.prices.twelvedata_shares.PlanLimitExceeded`), so the
free plan spends nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from autoindex_pipeline.domain.ownership import normalize_holdings, normalize_insider
from autoindex_pipeline.providers.http import QuotaExhausted, RetriesExhausted
from autoindex_pipeline.providers.prices.base import CallStats, ProviderError
from autoindex_pipeline.providers.prices.twelvedata import TwelveDataProvider
from autoindex_pipeline.providers.prices.twelvedata_shares import PlanLimitExceeded
from autoindex_pipeline.providers.prices.twelvedata_wire import (
    _error_code,
    _is_error,
    _json_object,
    _payload_classifier,
    _unique,
)

ENDPOINTS = {"insider": "insider_transactions", "holdings": "institutional_holders"}


class TwelveDataOwnership:
    name = "twelvedata"

    def __init__(self, provider: TwelveDataProvider, *, insider_credits: int = 200, holdings_credits: int = 1500) -> None:
        self._provider = provider
        self.costs = {"insider": int(insider_credits), "holdings": int(holdings_credits)}
        self.stats = CallStats()
        self.failures: dict[str, str] = {}

    def close(self) -> None:
        self._provider.close()

    def _fetch(self, kind: str, symbols: Sequence[str], row) -> list[dict[str, Any]]:
        endpoint, cost = ENDPOINTS[kind], self.costs[kind]
        per_minute = self._provider.credits_per_minute
        if cost > per_minute:
            raise PlanLimitExceeded(
                f"twelvedata: /{endpoint} costs {cost} credits per symbol but the plan allows {per_minute} per minute; "
                "use the files provider's ownership files"
            )
        http = self._provider._http  # one client per provider: the same limiter and call counts
        rows: list[dict[str, Any]] = []
        wanted = _unique(symbols)
        for index, symbol in enumerate(wanted):
            try:
                response = http.get(f"/{endpoint}", {"symbol": symbol}, stats=self.stats, cost=cost,
                                    classify=_payload_classifier(endpoint, list, self._provider._seconds_to_next_minute))
            except RetriesExhausted as exc:
                self.failures[symbol] = str(exc)
                continue
            except QuotaExhausted as exc:
                for rest in wanted[index:]:
                    self.failures[rest] = f"not requested: {exc}"
                break
            body, problem = _json_object(response)
            if body is None:
                self.failures[symbol] = str(problem)
                continue
            if _is_error(body):
                code = _error_code(body, response.status_code)
                message = http.redact(str(body.get("message", "no message")))
                if code == 403:
                    # The plan lacks the endpoint: every symbol would say the same.
                    raise ProviderError(f"TwelveData error 403 on /{endpoint}: {message}")
                self.failures[symbol] = f"TwelveData error {code} on /{endpoint}: {message}"
                continue
            entries = body.get(endpoint)
            if not isinstance(entries, list):
                self.failures[symbol] = f"malformed /{endpoint} response: no '{endpoint}' list"
                continue
            rows += [row(symbol, entry) for entry in entries if isinstance(entry, dict)]
        return rows

    def fetch_insider_transactions(self, symbols: Sequence[str]) -> pd.DataFrame:
        rows = self._fetch("insider", symbols, lambda symbol, e: {
            "symbol": symbol, "date": e.get("date_reported"), "insider": e.get("full_name"), "position": e.get("position"),
            "shares": e.get("shares"), "value": e.get("value"), "is_direct": e.get("is_direct"),
            "description": e.get("description"),
        })
        return normalize_insider(pd.DataFrame(rows, columns=["symbol", "date", "insider", "position", "shares", "value",
                                                             "is_direct", "description"]))

    def fetch_institutional_holdings(self, symbols: Sequence[str]) -> pd.DataFrame:
        rows = self._fetch("holdings", symbols, lambda symbol, e: {
            "symbol": symbol, "date_reported": e.get("date_reported"), "holder": e.get("entity_name"),
            "shares": e.get("shares"), "value": e.get("value"), "percent_held": e.get("percent_held"),
        })
        return normalize_holdings(pd.DataFrame(rows, columns=["symbol", "date_reported", "holder", "shares", "value",
                                                              "percent_held"]))

"""What every TwelveData endpoint shares: the body is the truth (HTTP 200 may carry an error),
error codes, and today's date in an exchange's time zone.

Used by the time-series client (:mod:`.twelvedata`) and the statistics client
(:mod:`.twelvedata_shares`); neither knows the other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from autoindex_pipeline.providers.http import Classification, Verdict, parse_retry_after

SOURCE = "twelvedata"
EXCHANGE_TIMEZONE = "America/New_York"


def _today_in(clock: Callable[[], float], tz_name: str) -> dt.date:
    try:
        tz = ZoneInfo(tz_name)
    except Exception:  # an unknown zone name from the provider must not break the fetch
        tz = ZoneInfo(EXCHANGE_TIMEZONE)
    return dt.datetime.fromtimestamp(clock(), tz).date()


def _unique(symbols: Sequence[str]) -> list[str]:
    # Order kept so batches and progress follow the caller's list.
    return list(dict.fromkeys(s.strip() for s in symbols if s and s.strip()))


def _json_object(response: httpx.Response) -> tuple[dict[str, Any] | None, str | None]:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None, f"malformed response: HTTP {response.status_code} body is not JSON"
    if not isinstance(body, dict):
        return None, f"malformed response: expected a JSON object, got {type(body).__name__}"
    return body, None


def _error_code(body: dict[str, Any], fallback: int) -> int:
    try:
        return int(body.get("code"))
    except (TypeError, ValueError):
        return fallback


def _is_error(entry: Any) -> bool:
    return isinstance(entry, dict) and str(entry.get("status", "")).lower() == "error"


def _classify_error(
    body: dict[str, Any], response: httpx.Response, credits_reset: Callable[[], float], *, fatal_403: bool
) -> Classification:
    code = _error_code(body, response.status_code)
    message = str(body.get("message", "no message"))
    if code == 401:
        return Classification(Verdict.FATAL, f"API key rejected (401): {message}")
    if code == 403 and fatal_403:
        return Classification(Verdict.FATAL, f"access denied (403): {message}")
    if code == 429:
        # A Retry-After header, when sent, still wins: the HTTP layer only fills in a missing one.
        retry_after = parse_retry_after(response)
        return Classification(
            Verdict.RETRY,
            f"TwelveData error 429: {message}",
            retry_after if retry_after is not None else credits_reset(),
        )
    if code >= 500:
        return Classification(Verdict.RETRY, f"TwelveData error {code}: {message}")
    return Classification(Verdict.FAIL, f"TwelveData error {code}: {message}")


def _payload_classifier(key: str, kind: type, credits_reset: Callable[[], float]) -> Callable[[httpx.Response], Classification | None]:
    """The verdict on an answer of a per-symbol endpoint (/statistics, /splits, /dividends,
    /insider_transactions, /institutional_holders) whose payload is the ``kind`` (``list`` or
    ``dict``) under ``key``. A 403 there (the plan lacks the endpoint) and a 404 (an unknown
    symbol) fail that symbol only; a 200 without the payload is retried as malformed."""
    shape = "list" if kind is list else "object"

    def classify(response: httpx.Response) -> Classification | None:
        body, problem = _json_object(response)
        if body is None:
            if response.status_code == 401:
                return Classification(Verdict.FATAL, "API key rejected (HTTP 401)")
            return Classification(Verdict.RETRY, str(problem)) if response.status_code < 300 else None
        if _is_error(body):
            return _classify_error(body, response, credits_reset, fatal_403=False)
        if response.status_code >= 300:
            return None
        if isinstance(body.get(key), kind):
            return Classification(Verdict.OK)
        return Classification(Verdict.RETRY, f"malformed response: no '{key}' {shape}")

    return classify

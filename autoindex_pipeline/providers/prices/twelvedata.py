"""TwelveData daily bars over plain HTTP; shares outstanding through :mod:`.twelvedata_shares`.

``GET /time_series`` for batches of symbols (one credit per symbol per request); ``GET
/splits`` and ``GET /dividends`` per symbol for corporate actions (:mod:`.twelvedata_actions`);
``GET /statistics`` per symbol for shares outstanding, in its own client that shares this provider's
HTTP client and credit limiter. Built on the shared policy in
:mod:`autoindex_pipeline.providers.http` (limiter, retries, counting, redaction).

How it differs from the old system's client:

* the key travels in the ``Authorization`` header, not the query string, and is redacted from
  every message; the old client went through the SDK, which puts ``apikey=`` in URLs;
* errors are read from the body (``status: error``) even under HTTP 200; a bad symbol inside a
  batch becomes a per-symbol failure with the provider's reason, where the old client dropped
  it silently or failed the whole batch;
* retries happen per request (and per symbol for per-symbol 429s), not by re-running the whole
  multi-batch fetch, and every attempt is paid for in the limiter and counted in ``CallStats``;
* the limiter knows the per-day budget as well as the per-minute one, and batches are never
  larger than the per-minute budget (a request costing more would be refused by the API);
* ``end`` is inclusive (TwelveData treats a daily ``end_date`` as exclusive), long ranges are
  split so ``outputsize`` can never truncate a series, and numbers are parsed strictly: a bar
  that is not a number fails its symbol instead of becoming NaN;
* shares outstanding are point-in-time honest (see :mod:`.twelvedata_shares`).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pandas as pd

from autoindex_pipeline.providers.http import (
    Classification,
    HttpClient,
    QuotaExhausted,
    RateLimiter,
    RetriesExhausted,
    RetryPolicy,
    Verdict,
)
from autoindex_pipeline.providers.prices.base import (
    CallStats,
    FetchResult,
    ProgressCallback,
    ProviderError,
    empty_price_frame,
    normalize_price_frame,
)
from autoindex_pipeline.providers.prices.twelvedata_actions import (
    DEFAULT_DIVIDENDS_CREDITS,
    DEFAULT_SPLITS_CREDITS,
    CorporateActionsClient,
)
from autoindex_pipeline.providers.prices.twelvedata_shares import (
    DEFAULT_STATISTICS_CREDITS,
    PlanLimitExceeded,
    StatisticsClient,
)
from autoindex_pipeline.providers.prices.twelvedata_wire import (
    EXCHANGE_TIMEZONE,
    SOURCE,
    _classify_error,
    _error_code,
    _is_error,
    _json_object,
    _unique,
)

__all__ = ["DEFAULT_STATISTICS_CREDITS", "PlanLimitExceeded", "TwelveDataProvider"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.twelvedata.com"
MAX_BATCH_SIZE = 120
MAX_OUTPUTSIZE = 5000
# A daily series has at most one bar per calendar day, so a window this long can never reach
# outputsize and be silently cut (7-day crypto series included).
WINDOW_DAYS = MAX_OUTPUTSIZE - 1
PRICE_VALUE_COLUMNS = ("open", "high", "low", "close", "volume")


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _date_windows(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    windows = []
    lo = start
    while lo <= end:
        hi = min(end, lo + dt.timedelta(days=WINDOW_DAYS - 1))
        windows.append((lo, hi))
        lo = hi + dt.timedelta(days=1)
    return windows


def _is_no_data(code: int, message: str) -> bool:
    # TwelveData answers a range with no bars with a 400 rather than an empty list; that is an
    # empty window (an IPO after `start`), not a bad symbol.
    return code == 400 and "no data" in message.lower()


class TwelveDataProvider:
    """:class:`~autoindex_pipeline.providers.prices.base.PriceProvider` backed by TwelveData.

    ``clock`` returns epoch seconds and ``sleep`` waits; both are injectable so tests run in
    fake time. ``statistics_credits`` is what one ``/statistics`` call costs (default 50).
    """

    name = "twelvedata"
    split_adjusted = True
    """TwelveData restates its daily bars for splits: the prices asset multiplies them back to
    the raw scale with the recorded splits (services/restatements.py)."""

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        batch_size: int = MAX_BATCH_SIZE,
        credits_per_minute: int = 8,
        credits_per_day: int | None = 800,
        statistics_credits: int = DEFAULT_STATISTICS_CREDITS,
        splits_credits: int = DEFAULT_SPLITS_CREDITS,
        dividends_credits: int = DEFAULT_DIVIDENDS_CREDITS,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_key or not api_key.strip():
            raise ValueError("TwelveData API key is empty")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self.retry = retry or RetryPolicy()
        self.credits_per_minute = int(credits_per_minute)
        self.credits_per_day = credits_per_day
        self.statistics_credits = int(statistics_credits)
        # A request costing more than a minute's credits is refused by the API outright.
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH_SIZE, self.credits_per_minute))
        self.limiter = RateLimiter(
            self.credits_per_minute,
            credits_per_day,
            unit="credits",
            clock=self._clock,
            sleep=self._sleep,
        )
        self._http = HttpClient(
            base_url,
            name=self.name,
            headers={"Authorization": f"apikey {api_key}", "Accept": "application/json"},
            secrets=[api_key],
            timeout=timeout,
            retry=self.retry,
            limiter=self.limiter,
            sleep=self._sleep,
            transport=transport,
        )
        self._statistics = StatisticsClient(
            self._http,
            statistics_credits=self.statistics_credits,
            credits_per_minute=self.credits_per_minute,
            clock=self._clock,
            credits_reset=self._seconds_to_next_minute,
        )
        self._actions = CorporateActionsClient(
            self._http,
            splits_credits=splits_credits,
            dividends_credits=dividends_credits,
            credits_per_minute=self.credits_per_minute,
            credits_reset=self._seconds_to_next_minute,
        )

    def __repr__(self) -> str:
        return f"TwelveDataProvider(batch_size={self.batch_size}, credits_per_minute={self.credits_per_minute})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TwelveDataProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _seconds_to_next_minute(self) -> float:
        # TwelveData counts credits per clock minute and its 429 says "wait for the next minute";
        # exponential backoff from one second would burn the remaining attempts inside it.
        return 60.0 - (self._clock() % 60.0) + 1.0

    def fetch_shares(self, symbols: Sequence[str], end: dt.date) -> FetchResult:
        """Shares outstanding known on ``end`` (today only); raises :class:`PlanLimitExceeded`
        when one call costs more than the plan's credits per minute."""
        return self._statistics.fetch_shares(symbols, end)

    def fetch_corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Splits and cash dividends (``/splits``, ``/dividends``, see :mod:`.twelvedata_actions`);
        raises :class:`PlanLimitExceeded` when one call costs more than the plan's minute."""
        return self._actions.fetch_corporate_actions(symbols, start, end)

    # ----------------------------------------------------------------------------------------
    # Prices

    def fetch_prices(
        self,
        symbols: Sequence[str],
        start: dt.date,
        end: dt.date,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        wanted = _unique(symbols)
        stats = CallStats()
        failures: dict[str, str] = {}
        frames: list[pd.DataFrame] = []
        windows = _date_windows(start, end)
        total, done = len(wanted), 0
        batches = _chunks(wanted, self.batch_size)
        for index, batch in enumerate(batches):
            try:
                batch_frames, batch_failures = self._fetch_batch(batch, windows, stats)
            except QuotaExhausted as exc:
                # What was fetched is kept; the rest is reported so the next run picks it up.
                reason = f"not requested: {exc}"
                for symbol in (s for rest in batches[index:] for s in rest):
                    failures[symbol] = reason
                logger.warning("twelvedata: %s; %d symbol(s) left unfetched", exc, total - done)
                done = total
                if progress is not None:
                    progress(done, total)
                break
            frames.extend(batch_frames)
            failures.update(batch_failures)
            done += len(batch)
            if progress is not None:
                progress(done, total)

        frame = pd.concat(frames, ignore_index=True) if frames else empty_price_frame()
        if failures:
            logger.info("twelvedata: %d of %d symbol(s) failed", len(failures), total)
        return FetchResult(normalize_price_frame(frame, source=SOURCE), failures, stats)

    def _fetch_batch(
        self,
        batch: list[str],
        windows: list[tuple[dt.date, dt.date]],
        stats: CallStats,
    ) -> tuple[list[pd.DataFrame], dict[str, str]]:
        per_symbol: dict[str, list[pd.DataFrame]] = {s: [] for s in batch}
        errors: dict[str, str] = {}
        no_data: dict[str, str] = {}
        for lo, hi in windows:
            pending = [s for s in batch if s not in errors]
            if not pending:
                break
            window_frames, window_errors, window_empty = self._fetch_window(pending, lo, hi, stats)
            for symbol, frame in window_frames.items():
                per_symbol[symbol].append(frame)
            errors.update(window_errors)
            no_data.update(window_empty)

        frames: list[pd.DataFrame] = []
        failures: dict[str, str] = {}
        for symbol in batch:
            if symbol in errors:
                # A series with a hole in it is worse than none: stored rows stay as they are.
                failures[symbol] = errors[symbol]
            elif per_symbol[symbol] and sum(len(f) for f in per_symbol[symbol]):
                frames.extend(per_symbol[symbol])
            else:
                failures[symbol] = no_data.get(symbol, "no bars in the requested range")
        return frames, failures

    def _fetch_window(
        self,
        symbols: list[str],
        start: dt.date,
        end: dt.date,
        stats: CallStats,
    ) -> tuple[dict[str, pd.DataFrame], dict[str, str], dict[str, str]]:
        """One date window for a batch; per-symbol 429/5xx entries are re-requested in rounds."""
        frames: dict[str, pd.DataFrame] = {}
        errors: dict[str, str] = {}
        empty: dict[str, str] = {}
        pending = list(symbols)
        for round_number in range(1, self.retry.max_attempts + 1):
            params = {
                "symbol": ",".join(pending),
                "interval": "1day",
                "start_date": start.isoformat(),
                # end_date behaves as exclusive for daily bars: ask one day more, filter below.
                "end_date": (end + dt.timedelta(days=1)).isoformat(),
                "outputsize": MAX_OUTPUTSIZE,
                "order": "ASC",
                "timezone": EXCHANGE_TIMEZONE,
            }
            try:
                response = self._http.get(
                    "/time_series",
                    params,
                    stats=stats,
                    cost=len(pending),
                    classify=_time_series_classifier(len(pending), self._seconds_to_next_minute),
                )
            except RetriesExhausted as exc:
                errors.update({s: str(exc) for s in pending})
                return frames, errors, empty

            body, problem = _json_object(response)
            if body is None:
                errors.update({s: f"{problem}" for s in pending})
                return frames, errors, empty

            transient: dict[str, str] = {}
            for symbol, entry in self._split(body, pending).items():
                frame, code, message = self._parse_entry(symbol, entry, start, end)
                if frame is not None:
                    frames[symbol] = frame
                elif code == 401:
                    raise ProviderError(f"twelvedata: API key rejected (401): {self._http.redact(message)}")
                elif code == 429 or code >= 500:
                    transient[symbol] = f"TwelveData error {code}: {self._http.redact(message)}"
                elif _is_no_data(code, message):
                    empty[symbol] = f"no bars in the requested range (TwelveData {code}: {self._http.redact(message)})"
                elif code == 0:
                    errors[symbol] = self._http.redact(message)
                else:
                    errors[symbol] = f"TwelveData error {code}: {self._http.redact(message)}"
            if not transient:
                break
            if round_number == self.retry.max_attempts:
                attempts = self.retry.max_attempts
                errors.update({s: f"{r} (gave up after {attempts} attempts)" for s, r in transient.items()})
                break
            wait = self.retry.wait_for(round_number, self._seconds_to_next_minute())
            stats.retried += 1
            logger.warning(
                "twelvedata: %d symbol(s) got a transient error inside a batch; re-requesting in %.1fs",
                len(transient),
                wait,
            )
            self._sleep(wait)
            pending = list(transient)
        return frames, errors, empty

    @staticmethod
    def _split(body: dict[str, Any], symbols: list[str]) -> dict[str, Any]:
        """Map each requested symbol to its part of the body, whichever shape came back."""
        if len(symbols) == 1 and ("values" in body or _is_error(body)):
            return {symbols[0]: body}
        if _is_error(body):
            # A request-level error for a batch applies to every symbol in it.
            return {s: body for s in symbols}
        # Keys normally echo the request; case-folding covers a provider that upper-cases them.
        folded = {str(k).upper(): v for k, v in body.items()}
        return {s: body[s] if s in body else folded.get(s.upper()) for s in symbols}

    @staticmethod
    def _parse_entry(
        symbol: str, entry: Any, start: dt.date, end: dt.date
    ) -> tuple[pd.DataFrame | None, int, str]:
        """(frame, 0, "") for a series, else (None, error code, message). Code 0 means the
        entry was not understood."""
        if entry is None:
            return None, 404, "symbol missing from the batch response"
        if not isinstance(entry, dict):
            return None, 0, f"malformed response: entry is a {type(entry).__name__}"
        if _is_error(entry):
            return None, _error_code(entry, 0), str(entry.get("message", "no message"))
        values = entry.get("values")
        if not isinstance(values, list):
            return None, 0, "malformed response: no 'values' list"
        if not values:
            return None, 400, "no data: empty 'values' list"
        raw = pd.DataFrame.from_records(values)
        missing = [c for c in ("datetime", "open", "high", "low", "close") if c not in raw.columns]
        if missing:
            return None, 0, f"malformed response: bars lack {', '.join(missing)}"
        try:
            frame = pd.DataFrame(
                {
                    "symbol": symbol,
                    "date": pd.to_datetime(raw["datetime"], format="mixed").dt.normalize(),
                    **{
                        col: pd.to_numeric(raw[col]) if col in raw.columns else float("nan")
                        for col in PRICE_VALUE_COLUMNS
                    },
                }
            )
        except (ValueError, TypeError) as exc:
            return None, 0, f"malformed response: unparseable bar ({type(exc).__name__})"
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        frame = frame.loc[(frame["date"] >= lo) & (frame["date"] <= hi)]
        frame = frame.drop_duplicates(subset=["date"], keep="last")
        return frame.reset_index(drop=True), 0, ""

def _time_series_classifier(
    n_symbols: int, credits_reset: Callable[[], float]
) -> Callable[[httpx.Response], Classification | None]:
    """TwelveData puts the truth in the body: HTTP 200 may carry an error, and the shape must be
    checked before the response is called usable."""

    def classify(response: httpx.Response) -> Classification | None:
        body, problem = _json_object(response)
        if body is None:
            if response.status_code == 401:
                return Classification(Verdict.FATAL, "API key rejected (HTTP 401)")
            if response.status_code < 300:
                return Classification(Verdict.RETRY, str(problem))
            return None  # 429/5xx retry, other 4xx fail: the status is all there is
        if _is_error(body):
            if _is_no_data(_error_code(body, response.status_code), str(body.get("message", ""))):
                # A correct answer (no bars in the range yet), not a failed call: it must not
                # lower the provider's success rate nor look like an outage.
                return Classification(Verdict.OK)
            return _classify_error(body, response, credits_reset, fatal_403=n_symbols > 1)
        if response.status_code >= 300:
            return None
        if n_symbols == 1:
            if isinstance(body.get("values"), list):
                return Classification(Verdict.OK)
            return Classification(Verdict.RETRY, "malformed response: no 'values' list")
        if any(isinstance(v, dict) for v in body.values()):
            return Classification(Verdict.OK)
        return Classification(Verdict.RETRY, "malformed response: not a batch of series")

    return classify

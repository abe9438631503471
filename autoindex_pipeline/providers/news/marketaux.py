"""Marketaux financial news over plain HTTP: ``GET /v1/news/all``.

Built on the shared policy in :mod:`autoindex_pipeline.providers.http` (limiter, retries,
counting, redaction); this module only knows how Marketaux pages and what its bodies mean.

Requests: symbols are sent in batches (``symbols=AAPL,MSFT,...``, ``symbols_per_request`` at a
time) with ``filter_entities=true`` (entities only for the symbols asked for), ``language``,
``published_after`` / ``published_before`` (``YYYY-MM-DDTHH:MM:SS``, UTC; the window is widened
to whole seconds and filtered exactly on our side to ``start <= published_at < end``), ``limit``
(``articles_per_request``; 3 on the free plan) and ``page`` from 1 until ``meta.found`` is
exhausted, a page comes back short, or ``max_pages_per_batch`` is reached. Pages are counted in
``meta.limit`` (what the plan actually applied; a plan silently caps a larger ``limit``). Every
request costs one request of the client-side budget (``requests_per_minute``,
``requests_per_day``; the day resets 00:00 UTC).

The token must travel in the query string (``api_token``; the API takes it nowhere else). It is
registered with the shared redaction filter, so httpx's request log line shows ``***``; messages
built here never contain a URL, and error texts echoed by the API are redacted too.

What a response means:

===================================  ==============================================================
HTTP 200 with ``data``               a page: kept, paging continues
401 / ``invalid_api_token``          :class:`ProviderError` at once (nothing else will work)
403 (plan lacks the endpoint)        :class:`ProviderError` at once
402 / ``usage_limit_reached``        stop the whole fetch; what was fetched is kept, the rest of
                                     the batch and every later batch are reported in ``failures``
client budget spent                  the same (``QuotaExhausted`` from the limiter, no request made)
429 / ``rate_limit_reached``, 5xx,   retried with exponential backoff and jitter, honouring
timeouts                             ``Retry-After``; when retries run out the batch stops, pages
                                     already fetched are kept, its symbols go to ``failures``
400 / ``malformed_parameters``,      the batch stops, pages already fetched are kept, its symbols
other 4xx                            go to ``failures`` with the API's (redacted) message
garbage (not JSON, no ``data`` list,  the *whole batch* is discarded (nothing half-returned) and
article without ``uuid`` or a        its symbols go to ``failures`` naming the problem
parseable ``published_at``, bad
entity scores)
===================================  ==============================================================

``failures`` therefore means "this symbol's window is not fully covered, fetch it again"; rows
returned for such a symbol are genuine and safe to upsert (see
:mod:`autoindex_pipeline.providers.news.base`).

How it differs from the old system's client: pages are followed (the old one read one page),
failures are reported per symbol instead of an empty list, the token never appears in a log or
exception (the old one logged request exceptions whose text held the URL and put the response
text in its errors), a missing ``published_at`` is an error rather than "now", budgets are
enforced client-side, and every attempt is counted in ``CallStats``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
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
    parse_retry_after,
)
from autoindex_pipeline.providers.news.base import (
    ENTITY_COLUMNS,
    NewsFetchResult,
    empty_articles_frame,
    empty_entities_frame,
    normalize_articles_frame,
    normalize_entities_frame,
    utc_window,
)
from autoindex_pipeline.providers.prices.base import CallStats, ProgressCallback

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.marketaux.com"
NEWS_PATH = "/v1/news/all"
PROVIDER = "marketaux"
DEFAULT_SYMBOLS_PER_REQUEST = 20
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


class _BadPage(Exception):
    """A 200 response whose body is not a usable page."""


def _error_of(response: httpx.Response) -> tuple[str, str]:
    """``(code, message)`` of a Marketaux error body, ``("", "")`` when there is none."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _classify(response: httpx.Response) -> Classification:
    status = response.status_code
    code, message = _error_of(response)
    detail = f"HTTP {status}" + (f" {code}" if code else "") + (f": {message}" if message else "")
    if 200 <= status < 300 and not code:
        return Classification(Verdict.OK)
    if status == 401 or code == "invalid_api_token":
        return Classification(Verdict.FATAL, f"API token rejected ({detail})")
    if status == 403:
        return Classification(Verdict.FATAL, f"access to {NEWS_PATH} refused for this plan ({detail})")
    if status == 429 or code == "rate_limit_reached":
        return Classification(Verdict.RETRY, detail, parse_retry_after(response))
    if status == 402 or code == "usage_limit_reached":
        return Classification(Verdict.FAIL, detail)
    if status in (408,) or status >= 500:
        return Classification(Verdict.RETRY, detail, parse_retry_after(response))
    return Classification(Verdict.FAIL, detail)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _number(value: Any, what: str, bounded: bool = False) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise _BadPage(f"{what} is not a number ({value!r})")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _BadPage(f"{what} is not a number ({str(value)[:40]!r})") from None
    if not math.isfinite(number):
        raise _BadPage(f"{what} is not a finite number")
    if bounded and not -1.0 - 1e-6 <= number <= 1.0 + 1e-6:
        raise _BadPage(f"{what} {number} is outside [-1, 1]")
    return number


def _meta_int(meta: Any, name: str) -> int | None:
    if not isinstance(meta, dict) or meta.get(name) is None:
        return None
    value = meta[name]
    if isinstance(value, bool):
        raise _BadPage(f"meta.{name} is not a number ({value!r})")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _BadPage(f"meta.{name} is not a number ({str(value)[:40]!r})") from None


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class MarketauxProvider:
    """:class:`~autoindex_pipeline.providers.news.base.NewsProvider` backed by Marketaux.

    ``clock`` returns epoch seconds and ``sleep`` waits; both are injectable so tests run in fake
    time. ``transport`` swaps the network (``httpx.MockTransport``); ``base_url`` points at a
    local server. ``max_pages_per_batch`` (None: no cap) bounds what one batch may spend.
    """

    name = PROVIDER

    def __init__(
        self,
        api_token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        requests_per_day: int | None = 100,
        requests_per_minute: int = 60,
        articles_per_request: int = 3,
        symbols_per_request: int = DEFAULT_SYMBOLS_PER_REQUEST,
        language: str | None = "en",
        max_pages_per_batch: int | None = None,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not api_token or not api_token.strip():
            raise ValueError("Marketaux API token is empty")
        if articles_per_request < 1 or symbols_per_request < 1:
            raise ValueError("articles_per_request and symbols_per_request must be at least 1")
        if max_pages_per_batch is not None and max_pages_per_batch < 1:
            raise ValueError("max_pages_per_batch must be at least 1 or None")
        self._token = api_token
        self._clock = clock or time.time
        self._sleep = sleep or time.sleep
        self.retry = retry or RetryPolicy()
        self.articles_per_request = int(articles_per_request)
        self.symbols_per_request = int(symbols_per_request)
        self.language = language
        self.max_pages_per_batch = max_pages_per_batch
        self.limiter = RateLimiter(
            requests_per_minute, requests_per_day, unit="requests", clock=self._clock, sleep=self._sleep
        )
        self._http = HttpClient(
            base_url,
            name=self.name,
            headers={"Accept": "application/json"},
            secrets=[api_token],
            timeout=timeout,
            retry=self.retry,
            limiter=self.limiter,
            sleep=self._sleep,
            transport=transport,
        )

    def __repr__(self) -> str:
        return (
            f"MarketauxProvider(symbols_per_request={self.symbols_per_request}, "
            f"articles_per_request={self.articles_per_request})"
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MarketauxProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------------------------------

    def fetch_news(
        self,
        symbols: Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        progress: ProgressCallback | None = None,
    ) -> NewsFetchResult:
        lo, hi = utc_window(start, end)
        wanted = list(dict.fromkeys(str(s).strip().upper() for s in symbols if str(s).strip()))
        stats = CallStats()
        failures: dict[str, str] = {}
        articles: list[dict[str, Any]] = []
        entities: list[dict[str, Any]] = []
        batches = _chunks(wanted, self.symbols_per_request)
        total, done = len(wanted), 0
        for index, batch in enumerate(batches):
            batch_articles, batch_entities, problem, stop = self._fetch_batch(batch, lo, hi, stats)
            articles.extend(batch_articles)
            entities.extend(batch_entities)
            if problem is not None:
                failures.update({s: problem for s in batch})
            done += len(batch)
            if stop is not None:
                rest = [s for later in batches[index + 1 :] for s in later]
                failures.update({s: f"not requested: {stop}" for s in rest})
                logger.warning("marketaux: %s; %d symbol(s) left unfetched", stop, len(rest))
                done = total
            if progress is not None:
                progress(done, total)
            if stop is not None:
                break
        if failures:
            logger.info("marketaux: %d of %d symbol(s) not fully covered", len(failures), total)
        return NewsFetchResult(*self._frames(articles, entities, lo, hi), failures, stats)

    def _params(self, batch: list[str], lo: pd.Timestamp, hi: pd.Timestamp, page: int) -> dict[str, Any]:
        # Whole seconds, widened so an article exactly at a boundary is asked for; the exact
        # half-open window is applied to what comes back.
        after = lo.floor("s") - pd.Timedelta(seconds=1)
        before = hi.ceil("s")
        params: dict[str, Any] = {
            "api_token": self._token,
            "symbols": ",".join(batch),
            "filter_entities": "true",
            "published_after": after.strftime(_TIME_FORMAT),
            "published_before": before.strftime(_TIME_FORMAT),
            "limit": self.articles_per_request,
            "page": page,
        }
        if self.language:
            params["language"] = self.language
        return params

    def _fetch_batch(
        self, batch: list[str], lo: pd.Timestamp, hi: pd.Timestamp, stats: CallStats
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str | None, str | None]:
        """Every page of one batch: ``(articles, entities, failure reason, stop reason)``.

        A failure reason applies to this batch's symbols; a stop reason ends the whole fetch.
        """
        articles: list[dict[str, Any]] = []
        entities: list[dict[str, Any]] = []
        page = 1
        while True:
            try:
                params = self._params(batch, lo, hi, page)
                response = self._http.get(NEWS_PATH, params, stats=stats, cost=1, classify=_classify)
            except QuotaExhausted as exc:
                reason = f"client-side request budget spent after {page - 1} page(s) of this batch: {exc}"
                return articles, entities, self._incomplete(reason, page), str(exc)
            except RetriesExhausted as exc:
                return articles, entities, self._incomplete(f"Marketaux kept failing: {exc}", page), None

            if response.status_code >= 400 or _error_of(response)[0]:
                code, message = _error_of(response)
                detail = self._http.redact(
                    f"HTTP {response.status_code}" + (f" {code}" if code else "") + (f": {message}" if message else "")
                )
                if response.status_code == 402 or code == "usage_limit_reached":
                    reason = f"Marketaux usage limit reached ({detail})"
                    return articles, entities, self._incomplete(reason, page), reason
                return articles, entities, self._incomplete(f"Marketaux refused the request ({detail})", page), None

            try:
                page_articles, page_entities, found, returned, limit = self._parse_page(response, batch)
            except _BadPage as exc:
                reason = f"malformed Marketaux response on page {page}: {self._http.redact(str(exc))}; batch discarded"
                logger.warning("marketaux: %s", reason)
                return [], [], reason, None
            articles.extend(page_articles)
            entities.extend(page_entities)

            # The plan caps ``limit`` silently: page by the limit the API says it applied
            # (``meta.limit``). A short page is the last one whatever ``found`` says.
            per_page = limit or self.articles_per_request
            if returned < per_page or (found is not None and page * per_page >= found):
                break
            if self.max_pages_per_batch is not None and page >= self.max_pages_per_batch:
                shown = "unknown" if found is None else str(found)
                reason = f"stopped at max_pages_per_batch={self.max_pages_per_batch} ({shown} article(s) found)"
                return articles, entities, reason, None
            page += 1
        return articles, entities, None, None

    @staticmethod
    def _incomplete(reason: str, page: int) -> str:
        return reason if page == 1 else f"{reason} (pages 1-{page - 1} kept)"

    def _parse_page(
        self, response: httpx.Response, batch: list[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int | None, int, int | None]:
        """A page's article and entity rows, ``meta.found``, the number of items and
        ``meta.limit`` (None when absent). Raises :class:`_BadPage` on anything unusable."""
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            raise _BadPage("body is not JSON") from None
        if not isinstance(body, dict):
            raise _BadPage(f"expected a JSON object, got {type(body).__name__}")
        data = body.get("data")
        if not isinstance(data, list):
            raise _BadPage("no 'data' list")
        meta = body.get("meta")
        found = _meta_int(meta, "found")
        limit = _meta_int(meta, "limit")

        requested = {s.upper() for s in batch}
        articles: list[dict[str, Any]] = []
        entities: list[dict[str, Any]] = []
        for i, item in enumerate(data):
            where = f"data[{i}]"
            if not isinstance(item, dict):
                raise _BadPage(f"{where} is not an object")
            uuid = item.get("uuid")
            if not isinstance(uuid, str) or not uuid.strip():
                raise _BadPage(f"{where} has no 'uuid'")
            published = item.get("published_at")
            try:
                stamp = pd.Timestamp(published) if isinstance(published, str) and published.strip() else None
            except (TypeError, ValueError):
                stamp = None
            if stamp is None or stamp is pd.NaT:
                raise _BadPage(f"{where} ({uuid}) has no parseable 'published_at'")
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
            raw_entities = item.get("entities") or []
            if not isinstance(raw_entities, list):
                raise _BadPage(f"{where} ({uuid}) 'entities' is not a list")
            rows = []
            for j, entity in enumerate(raw_entities):
                if not isinstance(entity, dict):
                    raise _BadPage(f"{where}.entities[{j}] is not an object")
                symbol = entity.get("symbol")
                if not isinstance(symbol, str) or not symbol.strip():
                    raise _BadPage(f"{where}.entities[{j}] has no 'symbol'")
                if symbol.strip().upper() not in requested:
                    continue  # filter_entities=true should have left it out; be sure
                rows.append(
                    {
                        "provider": PROVIDER,
                        "provider_id": uuid.strip(),
                        "symbol": symbol.strip().upper(),
                        "match_score": _number(entity.get("match_score"), f"{where}.entities[{j}].match_score"),
                        "provider_sentiment": _number(
                            entity.get("sentiment_score"), f"{where}.entities[{j}].sentiment_score", bounded=True
                        ),
                    }
                )
            if not rows:
                continue  # it names none of our symbols: nothing to link it to
            articles.append(
                {
                    "provider": PROVIDER,
                    "provider_id": uuid.strip(),
                    "published_at": stamp,
                    "title": _text(item.get("title")),
                    "description": _text(item.get("description")),
                    "url": _text(item.get("url")).strip(),
                    "source": _text(item.get("source")),
                    "language": _text(item.get("language")),
                }
            )
            entities.extend(rows)
        return articles, entities, found, len(data), limit or None

    @staticmethod
    def _frames(
        articles: list[dict[str, Any]], entities: list[dict[str, Any]], lo: pd.Timestamp, hi: pd.Timestamp
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        if not articles:
            return empty_articles_frame(), empty_entities_frame()
        frame = normalize_articles_frame(pd.DataFrame.from_records(articles))
        frame = frame.loc[(frame["published_at"] >= lo) & (frame["published_at"] < hi)].reset_index(drop=True)
        ents = pd.DataFrame.from_records(entities, columns=list(ENTITY_COLUMNS))
        kept = frame[["provider", "provider_id"]].drop_duplicates()
        ents = ents.merge(kept, on=["provider", "provider_id"], how="inner")
        return frame, normalize_entities_frame(ents)

"""The interface every news provider implements, and the typed frames it returns.

A news provider turns (symbols, UTC time window) into two long frames plus a report of what it
could not cover; it never touches the warehouse or Dagster, never deduplicates and never scores
(that is :mod:`autoindex_pipeline.domain.news` and :mod:`autoindex_pipeline.domain.sentiment`).

The frames' columns and dtypes are :mod:`autoindex_pipeline.domain.frames` (they are the
domain's types; re-exported here for providers).

``failures`` of a :class:`NewsFetchResult` maps a symbol to why its window is *not fully
covered* (quota spent, the provider refused the batch, garbage...). Unlike prices, rows that were
fetched for such a symbol may still be returned: every article is genuine, storage upserts on a
stable ``article_id``, so storing a partial set is safe; the symbol's window should simply be
fetched again later. A quiet symbol (no news in the window) is *not* a failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

from autoindex_pipeline.domain.frames import (  # noqa: F401 - re-exported for the providers
    ARTICLE_COLUMNS,
    ENTITY_COLUMNS,
    empty_articles_frame,
    empty_entities_frame,
    normalize_articles_frame,
    normalize_entities_frame,
)
from autoindex_pipeline.providers.prices.base import CallStats, ProgressCallback


@dataclass
class NewsFetchResult:
    """Articles and their entity rows, plus what could not be covered (see the module doc)."""

    articles: pd.DataFrame
    entities: pd.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    stats: CallStats = field(default_factory=CallStats)

    @property
    def fetched_symbols(self) -> list[str]:
        """Symbols with at least one entity row."""
        return sorted(self.entities["symbol"].unique().tolist()) if len(self.entities) else []


@runtime_checkable
class NewsProvider(Protocol):
    """Financial news for a list of symbols over a UTC time window."""

    name: str

    def fetch_news(
        self,
        symbols: Sequence[str],
        start: dt.datetime,
        end: dt.datetime,
        progress: ProgressCallback | None = None,
    ) -> NewsFetchResult:
        """Articles with ``start <= published_at < end`` that mention any of ``symbols``, and one
        entity row per (article, requested symbol it mentions). ``start``/``end`` are UTC (a naive
        datetime is read as UTC). ``progress(symbols_done, symbols_total)`` as the fetch advances."""
        ...


def utc_timestamp(value: dt.datetime | pd.Timestamp | str, what: str = "time") -> pd.Timestamp:
    """``value`` as a UTC ``Timestamp``; a naive value is taken to be UTC already."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} {value!r} is not a date-time") from exc
    if ts is pd.NaT:
        raise ValueError(f"{what} is missing")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def utc_window(start: dt.datetime | pd.Timestamp, end: dt.datetime | pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``(start, end)`` as UTC timestamps; ``ValueError`` unless ``start < end``."""
    lo, hi = utc_timestamp(start, "start"), utc_timestamp(end, "end")
    if not lo < hi:
        raise ValueError(f"empty window: start {lo.isoformat()} is not before end {hi.isoformat()}")
    return lo, hi

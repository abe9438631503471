"""The small interface every price provider implements, and the typed frames it returns.

A provider turns (symbols, date range) into a long-format price frame plus a report of what
failed; it never touches the warehouse or Dagster. Frames are validated here so every provider
hands the rest of the pipeline the same dtypes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd

from autoindex_pipeline.domain import corporate_actions as ca

PRICE_COLUMNS: tuple[str, ...] = ("symbol", "date", "open", "high", "low", "close", "volume")
PRICE_FLOAT_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume", "adj_close")
SHARES_COLUMNS: tuple[str, ...] = ("symbol", "date", "shares_outstanding")
CORPORATE_ACTION_COLUMNS: tuple[str, ...] = ("symbol", "ex_date", "kind", "ratio", "amount", "currency")
"""A provider's corporate actions (methodology section 2a): ``kind`` is ``split`` (``ratio`` =
new shares per old share) or ``dividend`` (``amount`` per share as quoted on the ex-date, in
``currency``)."""

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(symbols_done, symbols_total)`` while a fetch advances."""


class ProviderError(RuntimeError):
    """A provider could not deliver anything usable (bad key, exhausted quota, garbage).

    Messages must never contain a secret.
    """


@dataclass
class CallStats:
    """Outcome of every HTTP call (or file read) a fetch made, for the success-rate figure."""

    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    credits_used: int = 0
    retry_wait_seconds: float = 0.0
    """Time slept in backoff before retries (Retry-After included)."""
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    """Time slept by the client-side rate limiter: why a run on a free plan is slow."""

    @property
    def success_rate(self) -> float | None:
        return None if self.calls == 0 else self.succeeded / self.calls

    def merge(self, other: CallStats) -> None:
        self.calls += other.calls
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.retried += other.retried
        self.credits_used += other.credits_used
        self.retry_wait_seconds += other.retry_wait_seconds
        self.rate_limit_waits += other.rate_limit_waits
        self.rate_limit_wait_seconds += other.rate_limit_wait_seconds

    def as_metadata(self) -> dict[str, float | int | None]:
        return {
            "provider_calls": self.calls,
            "provider_calls_succeeded": self.succeeded,
            "provider_calls_failed": self.failed,
            "provider_calls_retried": self.retried,
            "provider_credits_used": self.credits_used,
            "provider_retry_wait_seconds": round(self.retry_wait_seconds, 3),
            "provider_rate_limit_waits": self.rate_limit_waits,
            "provider_rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
            "provider_success_rate": self.success_rate,
        }


@dataclass
class FetchResult:
    """A typed frame plus what could not be fetched.

    ``failures`` maps a symbol to a human-readable reason (no secrets). A symbol listed there
    delivered nothing and its stored rows must be left alone.
    """

    frame: pd.DataFrame
    failures: dict[str, str] = field(default_factory=dict)
    stats: CallStats = field(default_factory=CallStats)

    @property
    def fetched_symbols(self) -> list[str]:
        return sorted(self.frame["symbol"].unique().tolist()) if len(self.frame) else []


@runtime_checkable
class PriceProvider(Protocol):
    """Daily OHLCV and shares outstanding for a list of symbols."""

    name: str

    def fetch_prices(
        self,
        symbols: Sequence[str],
        start: dt.date,
        end: dt.date,
        progress: ProgressCallback | None = None,
    ) -> FetchResult:
        """Daily bars with ``start <= date <= end`` (both inclusive), as a price frame."""
        ...

    def fetch_shares(self, symbols: Sequence[str], end: dt.date) -> FetchResult:
        """Shares outstanding known on or before ``end``, as a shares frame (point in time:
        each row says from which date the figure is known)."""
        ...

    def fetch_corporate_actions(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Splits and cash dividends with ``start <= ex_date <= end``, as a corporate-actions
        frame (:func:`normalize_corporate_actions_frame`)."""
        ...


def empty_price_frame() -> pd.DataFrame:
    return normalize_price_frame(pd.DataFrame({c: [] for c in PRICE_COLUMNS}), source="")


def normalize_price_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Coerce a provider's frame to the canonical dtypes and order.

    symbol: str, date: datetime64[ns] (session date, midnight, no time zone), prices and volume:
    float64 (NaN where the provider had nothing), optional adj_close, source: str.
    Sorted by (symbol, date). Raises ``ValueError`` naming missing columns.
    """
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"price frame is missing column(s): {', '.join(missing)}")
    columns = list(PRICE_COLUMNS) + (["adj_close"] if "adj_close" in frame.columns else [])
    out = frame.loc[:, columns].copy()
    out["symbol"] = out["symbol"].astype(str)
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    for col in PRICE_FLOAT_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="raise").astype("float64")
    out["source"] = source
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def normalize_shares_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical shares frame: symbol, date (known from), shares_outstanding (float64), source."""
    missing = [c for c in SHARES_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"shares frame is missing column(s): {', '.join(missing)}")
    out = frame.loc[:, list(SHARES_COLUMNS)].copy()
    out["symbol"] = out["symbol"].astype(str)
    out["date"] = pd.to_datetime(out["date"]).dt.normalize().astype("datetime64[ns]")
    out["shares_outstanding"] = pd.to_numeric(out["shares_outstanding"]).astype("float64")
    out["source"] = source
    return out.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)


def normalize_corporate_actions_frame(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical corporate-actions frame: ``CORPORATE_ACTION_COLUMNS`` plus source, validated
    by the domain (a bad kind, ratio or amount raises naming the row and column), sorted."""
    missing = [c for c in ("symbol", "ex_date", "kind") if c not in frame.columns]
    if missing:
        raise ValueError(f"corporate actions frame is missing column(s): {', '.join(missing)}")
    out = ca.normalise_events(frame.assign(source=source))
    return out.loc[:, [*CORPORATE_ACTION_COLUMNS, "source"]]


def empty_corporate_actions_frame(source: str = "") -> pd.DataFrame:
    return ca.empty_events().loc[:, [*CORPORATE_ACTION_COLUMNS, "source"]]

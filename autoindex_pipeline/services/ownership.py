"""Refresh the ownership tables of the universe's equities from the configured source (no
Dagster): insider transactions (new ones inserted) and institutional holdings (each reporting
date replaced). ETFs and commodities have neither."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.providers.ownership import OwnershipUnavailable, build_ownership_provider
from autoindex_pipeline.warehouse.ownership import write_insider_transactions, write_institutional_holdings

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["TABLES", "OwnershipRefresh", "OwnershipUnavailable", "equities", "refresh_ownership"]


@dataclass(frozen=True)
class OwnershipRefresh:
    source: str
    symbols: int
    delivered: int
    written: int
    skipped: str | None = None
    """Why nothing was fetched (a path not configured), None when it was."""
    credits_used: int = 0
    failures: dict[str, str] | None = None
    """Symbols the source failed on, with why (TwelveData)."""


def equities(config: AutoIndexConfig) -> list[str]:
    frame = config.universe_frame
    return frame.loc[frame["asset_class"] == "equity", "symbol"].tolist()


@dataclass(frozen=True)
class _Table:
    fetch: str
    """The provider's method for it."""
    write: Callable
    path_option: str
    """The files provider's option naming its file."""


TABLES = {
    "insider_transactions": _Table("fetch_insider_transactions", write_insider_transactions,
                                   "providers.files.insider_transactions_path"),
    "institutional_holdings": _Table("fetch_institutional_holdings", write_institutional_holdings,
                                     "providers.files.institutional_holdings_path"),
}


def refresh_ownership(engine: sa.Engine, config: AutoIndexConfig, table: str, now: dt.datetime,
                      price_provider=None) -> OwnershipRefresh:
    """Fetch ``table`` (a key of :data:`TABLES`) for the universe's equities and write it."""
    spec = TABLES[table]
    provider = build_ownership_provider(config, now.date(), price_provider)
    symbols = equities(config)
    try:
        frame = getattr(provider, spec.fetch)(symbols)
    finally:
        _close(provider)
    if frame is None:
        return OwnershipRefresh(provider.name, len(symbols), 0, 0, f"{spec.path_option} is not set")
    return OwnershipRefresh(provider.name, len(symbols), len(frame), spec.write(engine, frame, provider.name, now),
                            None, *_spend(provider))


def _spend(provider) -> tuple[int, dict[str, str] | None]:
    stats = getattr(provider, "stats", None)
    return (stats.credits_used if stats is not None else 0), (dict(provider.failures) if hasattr(provider, "failures") else None)


def _close(provider) -> None:
    close = getattr(provider, "close", None)
    if close is not None:
        close()

"""Refresh the ownership tables of the universe's equities from the configured source (no
Dagster): insider transactions (new ones inserted) and institutional holdings (each reporting
date replaced). ETFs and commodities have neither."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.providers.ownership import OwnershipUnavailable, build_ownership_provider
from autoindex_pipeline.warehouse.ownership import write_insider_transactions, write_institutional_holdings

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["OwnershipRefresh", "OwnershipUnavailable", "equities", "refresh_insider", "refresh_holdings"]


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


def refresh_insider(engine: sa.Engine, config: AutoIndexConfig, now: dt.datetime, price_provider=None) -> OwnershipRefresh:
    provider = build_ownership_provider(config, now.date(), price_provider)
    symbols = equities(config)
    try:
        frame = provider.fetch_insider_transactions(symbols)
    finally:
        _close(provider)
    if frame is None:
        return OwnershipRefresh(provider.name, len(symbols), 0, 0, "providers.files.insider_transactions_path is not set")
    return OwnershipRefresh(provider.name, len(symbols), len(frame), write_insider_transactions(engine, frame, provider.name, now),
                            None, *_spend(provider))


def refresh_holdings(engine: sa.Engine, config: AutoIndexConfig, now: dt.datetime, price_provider=None) -> OwnershipRefresh:
    provider = build_ownership_provider(config, now.date(), price_provider)
    symbols = equities(config)
    try:
        frame = provider.fetch_institutional_holdings(symbols)
    finally:
        _close(provider)
    if frame is None:
        return OwnershipRefresh(provider.name, len(symbols), 0, 0, "providers.files.institutional_holdings_path is not set")
    return OwnershipRefresh(provider.name, len(symbols), len(frame), write_institutional_holdings(engine, frame, provider.name, now),
                            None, *_spend(provider))


def _spend(provider) -> tuple[int, dict[str, str] | None]:
    stats = getattr(provider, "stats", None)
    return (stats.credits_used if stats is not None else 0), (dict(provider.failures) if hasattr(provider, "failures") else None)


def _close(provider) -> None:
    close = getattr(provider, "close", None)
    if close is not None:
        close()

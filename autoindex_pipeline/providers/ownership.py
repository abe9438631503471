"""Where insider transactions and institutional holdings come from: the sample generator (the
demo and tests) and files (CSV or Parquet, ``providers.files.insider_transactions_path`` /
``institutional_holdings_path``) and TwelveData (:mod:`.ownership_twelvedata`: its
``/insider_transactions`` and ``/institutional_holders``, high-tier plans only). The source
follows ``providers.prices``."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.domain.ownership import normalize_holdings, normalize_insider

POSITIONS = ("Chief Executive Officer", "Chief Financial Officer", "Director", "General Counsel", "10% Owner")
HOLDERS = ("Vanguard Group Inc", "Blackrock Inc.", "State Street Corporation", "FMR, LLC", "Geode Capital Management, LLC",
           "Morgan Stanley", "Northern Trust Corporation", "JPMorgan Chase & Co")


class OwnershipUnavailable(RuntimeError):
    """The configured source has no ownership data (the message says which and what to do)."""


def _rng(seed: int, symbol: str, what: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{seed}:{what}:{symbol}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _quarter_end(day: dt.date) -> dt.date:
    q_month = ((day.month - 1) // 3) * 3 + 1
    return dt.date(day.year, q_month, 1) - dt.timedelta(days=1)


class SampleOwnership:
    """Deterministic synthetic data per (seed, symbol): a few insider trades a quarter over the
    year before ``as_of`` and the top holders at the last quarter end."""

    name = "sample"

    def __init__(self, seed: int, as_of: dt.date) -> None:
        self.seed, self.as_of = seed, as_of

    def fetch_insider_transactions(self, symbols: Sequence[str]) -> pd.DataFrame:
        rows = []
        for symbol in symbols:
            rng = _rng(self.seed, symbol, "insider")
            for _ in range(int(rng.integers(2, 9))):
                day = self.as_of - dt.timedelta(days=int(rng.integers(1, 366)))
                shares = float(rng.integers(100, 50_000)) * (1 if rng.random() < 0.3 else -1)
                price = float(rng.uniform(20, 400))
                rows.append({"symbol": symbol, "date": day, "insider": f"Insider {int(rng.integers(1, 6))} of {symbol}",
                             "position": POSITIONS[int(rng.integers(len(POSITIONS)))], "shares": shares,
                             "value": abs(shares) * price, "is_direct": bool(rng.random() < 0.8),
                             "description": "Purchase at price" if shares > 0 else "Sale at price"})
        return normalize_insider(pd.DataFrame(rows)) if rows else normalize_insider(
            pd.DataFrame(columns=["symbol", "date", "insider", "shares"]))

    def fetch_institutional_holdings(self, symbols: Sequence[str]) -> pd.DataFrame:
        reported = _quarter_end(self.as_of)
        rows = []
        for symbol in symbols:
            rng = _rng(self.seed, symbol, "holders")
            outstanding = float(rng.integers(200, 20_000)) * 1e6
            for holder in rng.choice(HOLDERS, size=5, replace=False):
                share = float(rng.uniform(0.005, 0.09))
                rows.append({"symbol": symbol, "date_reported": reported, "holder": str(holder),
                             "shares": round(outstanding * share), "value": round(outstanding * share * float(rng.uniform(20, 400))),
                             "percent_held": share})
        return normalize_holdings(pd.DataFrame(rows)) if rows else normalize_holdings(
            pd.DataFrame(columns=["symbol", "date_reported", "holder", "shares"]))


def _read(path: Path) -> pd.DataFrame:
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path)


class FilesOwnership:
    """One CSV or Parquet file per table; a table whose path is not configured delivers nothing."""

    name = "files"

    def __init__(self, insider_path: Path | None, holdings_path: Path | None) -> None:
        self.insider_path, self.holdings_path = insider_path, holdings_path

    def _load(self, path: Path | None, symbols: Sequence[str], normalize) -> pd.DataFrame | None:
        if path is None:
            return None
        if not path.exists():
            raise OwnershipUnavailable(f"{path} does not exist")
        frame = normalize(_read(path))
        return frame[frame["symbol"].isin([s.upper() for s in symbols])].reset_index(drop=True)

    def fetch_insider_transactions(self, symbols: Sequence[str]) -> pd.DataFrame | None:
        return self._load(self.insider_path, symbols, normalize_insider)

    def fetch_institutional_holdings(self, symbols: Sequence[str]) -> pd.DataFrame | None:
        return self._load(self.holdings_path, symbols, normalize_holdings)


def build_ownership_provider(config: AutoIndexConfig, as_of: dt.date, price_provider=None):
    """The ownership source of ``providers.prices``. ``price_provider()`` builds the configured
    price provider (with its secret) when the source is an API one; default: the registry."""
    kind = config.providers.prices
    if kind == "sample":
        return SampleOwnership(config.providers.sample.seed, as_of)
    if kind == "files":
        files = config.providers.files
        return FilesOwnership(config.resolve(files.insider_transactions_path), config.resolve(files.institutional_holdings_path))
    if kind == "twelvedata":
        from autoindex_pipeline.providers.ownership_twelvedata import TwelveDataOwnership
        from autoindex_pipeline.providers.registry import build_price_provider

        td = config.providers.twelvedata
        prices = price_provider() if price_provider is not None else build_price_provider(config, "twelvedata")
        return TwelveDataOwnership(prices, insider_credits=td.insider_credits_per_call,
                                   holdings_credits=td.institutional_credits_per_call)
    raise OwnershipUnavailable(f"no ownership data from the {kind} provider")

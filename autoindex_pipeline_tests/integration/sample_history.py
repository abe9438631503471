"""A warehouse holding the sample provider's history with known recording times: the start of
the index tests that then correct, withdraw or override something and compare recomputations."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from autoindex_pipeline.config import AutoIndexConfig
from autoindex_pipeline.providers.prices.sample import SampleProvider
from autoindex_pipeline.warehouse import load
from autoindex_pipeline.warehouse.corporate_actions import upsert_corporate_actions


def store_sample_history(
    engine: sa.Engine,
    config: AutoIndexConfig,
    start: pd.Timestamp,
    end: pd.Timestamp,
    known_at: dt.datetime,
    prices_at: dt.datetime,
) -> pd.DataFrame:
    """The sample provider's corporate actions and shares recorded at ``known_at`` and its prices
    of ``start..end`` at ``prices_at``, for ``config``'s symbols; returns the prices stored."""
    sample = SampleProvider(config.universe_frame, seed=config.providers.sample.seed)
    events = sample.fetch_corporate_actions(config.symbols, start.date(), end.date()).frame
    if len(events):
        upsert_corporate_actions(engine, events, now=known_at)
    load.upsert_shares(engine, sample.fetch_shares(config.symbols, end.date()).frame, ingested_at=known_at)
    prices = sample.fetch_prices(config.symbols, start.date(), end.date()).frame
    load.replace_prices(engine, prices, config.symbols, start.date(), end.date(), ingested_at=prices_at)
    return prices

"""The warehouse tables (SQLAlchemy Core). Alembic migrations create them; this module is the
single description the loaders, readers and the migration check compare against.

Tables are named as in the systems this project replaces (`assets`, `prices`,
`market_cap_data`), so users and other tools can query them directly.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

assets = sa.Table(
    "assets",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("asset_class", sa.String(16), nullable=False),
    sa.Column("sector", sa.String(64), nullable=False),
    sa.Column("is_benchmark", sa.Boolean, nullable=False, default=False),
    sa.Column("in_universe", sa.Boolean, nullable=False, default=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

prices = sa.Table(
    "prices",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    # Raw provider values: cleaning (forward fill, return caps) happens when computing, so a
    # bad print stays visible to quality checks instead of being silently "fixed".
    sa.Column("open", sa.Float),
    sa.Column("high", sa.Float),
    sa.Column("low", sa.Float),
    sa.Column("close", sa.Float),
    sa.Column("volume", sa.Float),
    sa.Column("adj_close", sa.Float),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_prices_date", "date"),
)

market_cap_data = sa.Table(
    "market_cap_data",
    metadata,
    sa.Column("symbol", sa.String(16), primary_key=True),
    # Point in time: the figure is known from this date on (market cap at t uses the latest
    # row with date <= t).
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("shares_outstanding", sa.Float, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
)

PRICE_WRITE_COLUMNS = ("symbol", "date", "open", "high", "low", "close", "volume", "adj_close", "source", "ingested_at")
SHARES_WRITE_COLUMNS = ("symbol", "date", "shares_outstanding", "source", "ingested_at")

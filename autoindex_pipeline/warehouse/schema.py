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

# --- strategy, index and metrics (methodology sections 3-8) ---------------------------------
# Every row names the strategy and the content hash of the config that produced it, so a config
# change is a new version beside the old rows, never a silent rewrite of history.

strategy_configs = sa.Table(
    "strategy_configs",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("symbol", sa.String(16), primary_key=True),
    sa.Column("weight", sa.Float, nullable=False),
    sa.Column("momentum_weight", sa.Float, nullable=False),
    sa.Column("market_cap_weight", sa.Float, nullable=False),
    sa.Column("risk_parity_weight", sa.Float, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

index_values = sa.Table(
    "index_values",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("level", sa.Float, nullable=False),
    sa.Column("daily_return", sa.Float),
    sa.Column("turnover", sa.Float),
    sa.Column("cost", sa.Float),
    sa.Column("is_rebalance", sa.Boolean, nullable=False),
    sa.Column("benchmark_level", sa.Float),
    sa.Column("benchmark_return", sa.Float),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

index_state = sa.Table(
    "index_state",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("level", sa.Float, nullable=False),
    sa.Column("benchmark_level", sa.Float),
    sa.Column("holdings", sa.Text, nullable=False),
    # Newest prices.ingested_at the computation saw: rows ingested later (a backfill of an
    # old partition) mark the dates from which allocations and the index must be recomputed.
    sa.Column("prices_watermark", sa.DateTime(timezone=True)),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

RISK_METRIC_COLUMNS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "current_drawdown",
    "calmar", "beta", "correlation", "tracking_error", "information_ratio", "var_95", "win_rate",
)

risk_metrics = sa.Table(
    "risk_metrics",
    metadata,
    sa.Column("strategy", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(16), primary_key=True),
    sa.Column("date", sa.Date, primary_key=True),
    sa.Column("n_returns", sa.Integer, nullable=False),
    *(sa.Column(name, sa.Float) for name in RISK_METRIC_COLUMNS),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

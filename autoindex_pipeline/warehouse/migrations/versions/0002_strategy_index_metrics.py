"""Strategy configs, allocations, index values and state, risk metrics.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

RISK_METRIC_COLUMNS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "current_drawdown",
    "calmar", "beta", "correlation", "tracking_error", "information_ratio", "var_95", "win_rate",
)


def _key(*names: str) -> list[sa.Column]:
    types = {"strategy": sa.String(64), "version": sa.String(16), "date": sa.Date, "symbol": sa.String(16)}
    return [sa.Column(name, types[name], primary_key=True) for name in names]


def upgrade() -> None:
    op.create_table(
        "strategy_configs",
        *_key("strategy", "version"),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("is_current", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "allocations",
        *_key("strategy", "version", "date", "symbol"),
        sa.Column("weight", sa.Float, nullable=False),
        sa.Column("momentum_weight", sa.Float, nullable=False),
        sa.Column("market_cap_weight", sa.Float, nullable=False),
        sa.Column("risk_parity_weight", sa.Float, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "index_values",
        *_key("strategy", "version", "date"),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("daily_return", sa.Float),
        sa.Column("turnover", sa.Float),
        sa.Column("cost", sa.Float),
        sa.Column("is_rebalance", sa.Boolean, nullable=False),
        sa.Column("benchmark_level", sa.Float),
        sa.Column("benchmark_return", sa.Float),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "index_state",
        *_key("strategy", "version"),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("level", sa.Float, nullable=False),
        sa.Column("benchmark_level", sa.Float),
        sa.Column("holdings", sa.Text, nullable=False),
        sa.Column("prices_watermark", sa.DateTime(timezone=True)),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "risk_metrics",
        *_key("strategy", "version", "date"),
        sa.Column("n_returns", sa.Integer, nullable=False),
        *(sa.Column(name, sa.Float) for name in RISK_METRIC_COLUMNS),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("risk_metrics", "index_state", "index_values", "allocations", "strategy_configs"):
        op.drop_table(table)

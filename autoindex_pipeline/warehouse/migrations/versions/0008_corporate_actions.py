"""Corporate actions (splits and cash dividends, methodology section 2a) and the price-return
series published beside the total-return one.

``index_values.level`` (and the metrics' existing columns) stay the headline series, now the
total return; the ``price_*`` columns hold the price-return series computed from the same
targets. They are nullable: rows written before this revision carry none, and an
``index_state`` without ``price_holdings`` makes the next update recompute from the base date.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RISK_METRIC_COLUMNS = (
    "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "current_drawdown",
    "calmar", "beta", "correlation", "tracking_error", "information_ratio", "var_95", "win_rate",
)
INDEX_PRICE_COLUMNS = ("price_level", "price_daily_return", "price_turnover", "price_cost",
                       "price_benchmark_level", "price_benchmark_return")


def upgrade() -> None:
    op.create_table(
        "corporate_actions",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("ex_date", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("ratio", sa.Float),
        sa.Column("amount", sa.Float),
        sa.Column("currency", sa.String(8)),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("index_values") as batch:
        for name in INDEX_PRICE_COLUMNS:
            batch.add_column(sa.Column(name, sa.Float))
    with op.batch_alter_table("index_state") as batch:
        batch.add_column(sa.Column("price_level", sa.Float))
        batch.add_column(sa.Column("price_benchmark_level", sa.Float))
        batch.add_column(sa.Column("price_holdings", sa.Text))
    with op.batch_alter_table("risk_metrics") as batch:
        for name in RISK_METRIC_COLUMNS:
            batch.add_column(sa.Column(f"price_{name}", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("risk_metrics") as batch:
        for name in RISK_METRIC_COLUMNS:
            batch.drop_column(f"price_{name}")
    with op.batch_alter_table("index_state") as batch:
        for name in ("price_holdings", "price_benchmark_level", "price_level"):
            batch.drop_column(name)
    with op.batch_alter_table("index_values") as batch:
        for name in reversed(INDEX_PRICE_COLUMNS):
            batch.drop_column(name)
    op.drop_table("corporate_actions")

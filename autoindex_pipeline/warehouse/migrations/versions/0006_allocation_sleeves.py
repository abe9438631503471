"""Each sleeve's part of each allocation as rows (allocation_sleeves), so a new sleeve needs no
new column. Existing allocations are copied in from their three contribution columns (the raw
sleeve weight and the signal were never stored: NULL).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The sleeves whose contributions `allocations` has carried as columns since 0002.
_COLUMN_SLEEVES = {"momentum": "momentum_weight", "market_cap": "market_cap_weight", "risk_parity": "risk_parity_weight"}


def upgrade() -> None:
    op.create_table(
        "allocation_sleeves",
        sa.Column("strategy", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("sleeve", sa.String(32), primary_key=True),
        sa.Column("contribution", sa.Float, nullable=False),
        sa.Column("sleeve_weight", sa.Float),
        sa.Column("signal", sa.Float),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    for sleeve, column in _COLUMN_SLEEVES.items():
        op.execute(
            "INSERT INTO allocation_sleeves (strategy, version, date, symbol, sleeve, contribution, computed_at) "
            f"SELECT strategy, version, date, symbol, '{sleeve}', {column}, computed_at FROM allocations"
        )


def downgrade() -> None:
    op.drop_table("allocation_sleeves")

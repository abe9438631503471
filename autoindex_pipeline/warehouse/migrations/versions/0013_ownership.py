"""Insider transactions and institutional holdings (the AutoIndex system's performance tables):
data for users, not inputs to the methodology.

``insider_transactions``: one row per reported transaction, keyed by ``transaction_id`` (a hash
of the row's own fields: a provider that repeats a transaction on every fetch stores it once).
``institutional_holdings``: one row per (symbol, date_reported, holder).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "insider_transactions",
        sa.Column("transaction_id", sa.String(40), primary_key=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("insider", sa.Text, nullable=False),
        sa.Column("position", sa.Text),
        sa.Column("shares", sa.Float, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("is_direct", sa.Boolean),
        sa.Column("description", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_insider_transactions_symbol_date", "insider_transactions", ["symbol", "date"])
    op.create_table(
        "institutional_holdings",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date_reported", sa.Date, primary_key=True),
        sa.Column("holder", sa.String(200), primary_key=True),
        sa.Column("shares", sa.Float, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("percent_held", sa.Float),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("institutional_holdings")
    op.drop_index("ix_insider_transactions_symbol_date", table_name="insider_transactions")
    op.drop_table("insider_transactions")

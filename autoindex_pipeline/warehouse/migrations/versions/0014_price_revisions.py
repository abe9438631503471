"""Bitemporal prices and archived index publications (issue 13).

``price_revisions``: every value a (symbol, date) price ever had in the warehouse, with the time
it was recorded. ``prices`` stays the current view; ``load.replace_prices`` adds a revision in the
same transaction when a key's value is new or differs from the stored one, and a ``withdrawn``
revision when a write removes a stored row. Existing rows are backfilled with
``recorded_at = ingested_at``.

``index_values.data_as_of``: the data version a row was computed from. ``index_value_revisions``:
every index_values row a later write replaced, with when it was published (its ``computed_at``)
and when it was superseded, so the values as published at any moment stay queryable.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_INDEX_SERIES = ("level", "daily_return", "turnover", "cost", "benchmark_level", "benchmark_return")


def upgrade() -> None:
    op.create_table(
        "price_revisions",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("open", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("low", sa.Float),
        sa.Column("close", sa.Float),
        sa.Column("volume", sa.Float),
        sa.Column("adj_close", sa.Float),
        sa.Column("source", sa.String(32)),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
    )
    op.create_index("ix_price_revisions_recorded_at", "price_revisions", ["recorded_at"])
    op.execute(
        "INSERT INTO price_revisions (symbol, date, recorded_at, open, high, low, close, volume, adj_close, source, withdrawn) "
        "SELECT symbol, date, ingested_at, open, high, low, close, volume, adj_close, source, false FROM prices"
    )
    op.add_column("index_values", sa.Column("data_as_of", sa.DateTime(timezone=True)))
    op.create_table(
        "index_value_revisions",
        sa.Column("strategy", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("published_at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_as_of", sa.DateTime(timezone=True)),
        sa.Column("is_rebalance", sa.Boolean, nullable=False),
        *(sa.Column(name, sa.Float) for name in _INDEX_SERIES),
        *(sa.Column(f"price_{name}", sa.Float) for name in _INDEX_SERIES),
    )


def downgrade() -> None:
    op.drop_table("index_value_revisions")
    with op.batch_alter_table("index_values") as batch:
        batch.drop_column("data_as_of")
    op.drop_index("ix_price_revisions_recorded_at", table_name="price_revisions")
    op.drop_table("price_revisions")

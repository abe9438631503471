"""Capacity snapshots: one row per (day, kind, name) with the sizes the daily `capacity` asset
measures (each table's rows, heap and index bytes; the database; Dagster's run storage; the
data directory's disk), so growth per day and per month is read from the warehouse's own history.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capacity_snapshots",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("rows", sa.BigInteger),
        sa.Column("table_bytes", sa.BigInteger),
        sa.Column("index_bytes", sa.BigInteger),
        sa.Column("total_bytes", sa.BigInteger),
        sa.Column("free_bytes", sa.BigInteger),
        sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("capacity_snapshots")

"""The quality gate on the data: refused price rows, blocking verdicts, known absences.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "price_rejections",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("open", sa.Float),
        sa.Column("high", sa.Float),
        sa.Column("low", sa.Float),
        sa.Column("close", sa.Float),
        sa.Column("volume", sa.Float),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("checks", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("replaced_nothing", sa.Boolean, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "quality_verdicts",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("check_name", sa.String(64), primary_key=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("resolution", sa.Text),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolved_run_id", sa.String(64)),
    )
    op.create_index("ix_quality_verdicts_status_date", "quality_verdicts", ["status", "date"])
    op.create_table(
        "price_absences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("symbol", sa.String(16), nullable=False),
        sa.Column("date_from", sa.Date, nullable=False),
        sa.Column("date_to", sa.Date),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_price_absences_symbol", "price_absences", ["symbol"])


def downgrade() -> None:
    op.drop_index("ix_price_absences_symbol", table_name="price_absences")
    op.drop_table("price_absences")
    op.drop_index("ix_quality_verdicts_status_date", table_name="quality_verdicts")
    op.drop_table("quality_verdicts")
    op.drop_table("price_rejections")

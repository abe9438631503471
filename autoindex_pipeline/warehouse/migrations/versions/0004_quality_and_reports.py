"""Price overrides and the quality audit, quality scores and runs, performance reports.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _report_table(name: str, key: str, *values: str) -> None:
    op.create_table(
        name,
        sa.Column("strategy", sa.String(64), primary_key=True),
        sa.Column("version", sa.String(16), primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("label", sa.String(16), primary_key=True),
        *([sa.Column("section", sa.String(16), primary_key=True)] if key == "metric" else []),
        sa.Column(key, sa.String(64), primary_key=True),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("period_end", sa.Date, nullable=False),
        sa.Column("as_of", sa.Date, nullable=False),
        *(sa.Column(v, sa.Float) for v in values),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )


def upgrade() -> None:
    op.create_table(
        "price_overrides",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "quality_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("symbols", sa.Text),
        sa.Column("date_from", sa.Date),
        sa.Column("date_to", sa.Date),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "quality_scores",
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("score", sa.Float),
        sa.Column("colour", sa.String(8), nullable=False),
        sa.Column("worst_check", sa.String(64)),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "quality_runs",
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("portfolio_score", sa.Float, nullable=False),
        sa.Column("red", sa.Integer, nullable=False),
        sa.Column("yellow", sa.Integer, nullable=False),
        sa.Column("green", sa.Integer, nullable=False),
        sa.Column("failed_checks", sa.Text, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    _report_table("performance_reports", "metric", "index_value", "benchmark_value", "active_value")
    _report_table("performance_contributors", "symbol", "contribution", "avg_weight", "symbol_return")
    _report_table("performance_allocation_changes", "symbol", "weight_start", "weight_end", "change")


def downgrade() -> None:
    for table in ("performance_allocation_changes", "performance_contributors", "performance_reports",
                  "quality_runs", "quality_scores", "quality_audit", "price_overrides"):
        op.drop_table(table)

"""Each check's figures in the quality report of an as-of date (severity, passed, observed,
threshold, offending and evaluated counts, overridden rows), so the CLI summary prints the same
figures and words as the checks instead of computing its own.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quality_run_checks",
        sa.Column("as_of", sa.Date, primary_key=True),
        sa.Column("check_name", sa.String(64), primary_key=True),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("observed", sa.Float),
        sa.Column("threshold", sa.Float),
        sa.Column("offending", sa.Integer, nullable=False),
        sa.Column("evaluated", sa.Integer, nullable=False),
        sa.Column("overridden", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("quality_run_checks")

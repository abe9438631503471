"""The alert outbox (alerts recorded by the sensors, delivered by `deliver_alerts`) and each
fetching run's provider call counts (for `provider_health`, failed runs included).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_outbox",
        sa.Column("dedup_key", sa.String(255), primary_key=True),
        sa.Column("alert", sa.Text, nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("delivered", sa.String(64), nullable=False),
    )
    op.create_index("ix_alert_outbox_status_next", "alert_outbox", ["status", "next_attempt_at"])
    op.create_table(
        "provider_calls",
        sa.Column("run_id", sa.String(64), primary_key=True),
        sa.Column("asset", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("succeeded", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_provider_calls_provider_at", "provider_calls", ["provider", "at"])


def downgrade() -> None:
    op.drop_index("ix_provider_calls_provider_at", table_name="provider_calls")
    op.drop_table("provider_calls")
    op.drop_index("ix_alert_outbox_status_next", table_name="alert_outbox")
    op.drop_table("alert_outbox")

"""The view ``market_caps``: per stored close, the market capitalisation and trading volume that
``market_cap_data`` (shares outstanding, point in time) promises: close x the newest shares
figure known on that session (``date <= session``), the session's volume and its dollar value.
A view, not stored columns: it follows every re-fetched close and every refreshed shares figure
without a writer keeping copies in step.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

VIEW = """
CREATE VIEW market_caps AS
SELECT p.symbol, p.date, p.close, p.volume, m.shares_outstanding, m.date AS shares_date,
       p.close * m.shares_outstanding AS market_cap, p.close * p.volume AS dollar_volume
FROM prices p
JOIN market_cap_data m ON m.symbol = p.symbol AND m.date = (
    SELECT max(m2.date) FROM market_cap_data m2 WHERE m2.symbol = p.symbol AND m2.date <= p.date
)
"""


def upgrade() -> None:
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS market_caps")

"""governance: the marketing actions a destination account performs, set by whoever manages destinations

Revision ID: 0020_account_marketing_actions
Revises: 0019_sessions_and_lockout
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_account_marketing_actions"
down_revision = "0019_sessions_and_lockout"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("destination_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("marketing_actions", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("destination_accounts", schema=None) as batch_op:
        batch_op.drop_column("marketing_actions")

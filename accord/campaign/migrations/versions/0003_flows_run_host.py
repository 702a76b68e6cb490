"""campaign workflow runs: the host of a run's process

Revision ID: 0003_flows_run_host
Revises: 0002_flows_workflow_runs
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_flows_run_host"
down_revision = "0002_flows_workflow_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.drop_column("host")

"""campaign workflows: waiting runs, collected files, refused audience files

Revision ID: 0002_flows_workflow_runs
Revises: 0001_campaign_engine
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_flows_workflow_runs"
down_revision = "0001_campaign_engine"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wait_until", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("audience_loads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
    op.create_table(
        "collected_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("modified", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workflow_id"], ["workflows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["workflow_runs.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("collected_files", schema=None) as batch_op:
        batch_op.create_index("ix_collected_files_workflow", ["workflow_id", "activity"], unique=False)


def downgrade() -> None:
    op.drop_table("collected_files")
    with op.batch_alter_table("audience_loads", schema=None) as batch_op:
        batch_op.drop_column("error")
    with op.batch_alter_table("workflow_runs", schema=None) as batch_op:
        batch_op.drop_column("wait_until")

"""job leases: locks held by running jobs, with their owner and heartbeat

Revision ID: 0010_job_leases
Revises: 0009_security
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_job_leases"
down_revision = "0009_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("token", sa.String(length=24), nullable=False),
        sa.Column("purpose", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_leases")

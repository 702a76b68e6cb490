"""governance: privacy jobs (access and delete requests, their status and per-store reports)

Revision ID: 0016_privacy_jobs
Revises: 0015_users_and_roles
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_privacy_jobs"
down_revision = "0015_users_and_roles"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_jobs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("identities", sa.JSON(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("privacy_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_jobs_sandbox_id"), ["sandbox_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("privacy_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_jobs_sandbox_id"))
    op.drop_table("privacy_jobs")

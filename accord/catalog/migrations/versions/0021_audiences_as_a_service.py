"""segmentation as a service: segment jobs' progress, cancellation and trigger; segment schedules; computed attributes

Revision ID: 0021_audiences_as_a_service
Revises: 0020_account_marketing_actions
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_audiences_as_a_service"
down_revision = "0020_account_marketing_actions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("segment_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("progress", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("trigger", sa.String(length=16), nullable=False, server_default="manual"))
        batch_op.add_column(sa.Column("owner", sa.JSON(), nullable=True))
    op.create_table(
        "segment_schedules",
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=False),
        sa.Column("start_at", sa.String(length=5), nullable=False),
        sa.Column("rebuild_profiles", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sandbox_id"),
    )
    op.create_table(
        "computed_attributes",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_evaluated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sandbox_id", "name"),
    )
    with op.batch_alter_table("computed_attributes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_computed_attributes_sandbox_id"), ["sandbox_id"], unique=False)
    _member_manages_computed_attributes()


COMPUTED_PERMISSIONS = ["View Computed Attributes", "Manage Computed Attributes"]
"""New permissions; written out, not imported: a migration must mean the same thing whatever the code becomes."""


def _member_manages_computed_attributes() -> None:
    """The `member` role of 0015 holds all but the home-wide permissions: the new ones too."""
    roles = sa.table("roles", sa.column("id"), sa.column("name"), sa.column("permissions", sa.JSON()))
    bind = op.get_bind()
    for role_id, held in bind.execute(sa.select(roles.c.id, roles.c.permissions).where(roles.c.name == "member")):
        missing = [p for p in COMPUTED_PERMISSIONS if p not in (held or [])]
        if missing:
            bind.execute(sa.update(roles).where(roles.c.id == role_id).values(permissions=[*(held or []), *missing]))


def downgrade() -> None:
    with op.batch_alter_table("computed_attributes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_computed_attributes_sandbox_id"))
    op.drop_table("computed_attributes")
    op.drop_table("segment_schedules")
    with op.batch_alter_table("segment_jobs", schema=None) as batch_op:
        batch_op.drop_column("owner")
        batch_op.drop_column("trigger")
        batch_op.drop_column("cancel_requested")
        batch_op.drop_column("progress")

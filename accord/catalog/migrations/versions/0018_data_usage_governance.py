"""governance: data usage labels on datasets and fields, custom labels and marketing actions, policies

Revision ID: 0018_data_usage_governance
Revises: 0017_activity_log
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_data_usage_governance"
down_revision = "0017_activity_log"
branch_labels = None
depends_on = None


def _owned(name: str, *columns: sa.Column, unique: tuple[str, ...] = ("sandbox_id", "name")) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        *columns,
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(*unique),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_sandbox_id"), ["sandbox_id"], unique=False)


def upgrade() -> None:
    _owned(
        "data_labels",
        sa.Column("dataset_id", sa.String(length=24), sa.ForeignKey("datasets.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("field", sa.String(length=512), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        unique=("dataset_id", "field", "label"),
    )  # fmt: skip
    with op.batch_alter_table("data_labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_labels_dataset_id"), ["dataset_id"], unique=False)
    _owned("custom_labels", sa.Column("name", sa.String(length=64), nullable=False),
           sa.Column("description", sa.String(length=1024), nullable=False))  # fmt: skip
    _owned("marketing_actions", sa.Column("name", sa.String(length=64), nullable=False),
           sa.Column("title", sa.String(length=256), nullable=False),
           sa.Column("description", sa.String(length=1024), nullable=False))  # fmt: skip
    _owned(
        "data_usage_policies",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=1024), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("expression", sa.String(length=4000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("core", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for name in ("data_usage_policies", "marketing_actions", "custom_labels", "data_labels"):
        op.drop_table(name)

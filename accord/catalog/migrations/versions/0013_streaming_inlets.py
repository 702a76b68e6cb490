"""streaming: inlets

Revision ID: 0013_streaming_inlets
Revises: 0012_destinations
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_streaming_inlets"
down_revision = "0012_destinations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "streaming_inlets",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("dataset_id", sa.String(length=24), nullable=True),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("write_key_hash", sa.String(length=64), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sandbox_id", "name"),
    )
    with op.batch_alter_table("streaming_inlets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_streaming_inlets_sandbox_id"), ["sandbox_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_streaming_inlets_write_key_hash"), ["write_key_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("streaming_inlets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_streaming_inlets_write_key_hash"))
        batch_op.drop_index(batch_op.f("ix_streaming_inlets_sandbox_id"))
    op.drop_table("streaming_inlets")

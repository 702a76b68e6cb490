"""batches: the content hash of what each batch ingested

Revision ID: 0011_ingest_content_hash
Revises: 0010_job_leases
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_ingest_content_hash"
down_revision = "0010_job_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_batches_content_hash"), ["content_hash"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_content_hash"))
        batch_op.drop_column("content_hash")

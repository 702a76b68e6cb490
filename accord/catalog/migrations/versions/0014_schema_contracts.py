"""datasets: schema contracts (what streaming does with data that does not fit the schema)

Revision ID: 0014_schema_contracts
Revises: 0013_streaming_inlets
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_schema_contracts"
down_revision = "0013_streaming_inlets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("schema_contract", sa.String(length=16), nullable=False, server_default="discard_row")
        )


def downgrade() -> None:
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("schema_contract")

"""security: sandbox scope of API tokens; which secrets a connection holds

Revision ID: 0009_security
Revises: 0008
Create Date: 2026-11-29 20:10:00.000000

`connections.secret_fields` stays NULL on the rows already there: their secrets may be in clear in
`config` (the old code missed secret fields whose name has an alias). They are sealed after this
migration, in Python, by the first process that holds the secret key (`Workspace.open` calls
`sources.seal_clear_secrets`): a migration has no access to the key, which never enters the catalog.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_security"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sandbox_id", sa.String(length=24), nullable=True))
        batch_op.create_index(batch_op.f("ix_api_tokens_sandbox_id"), ["sandbox_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_sandbox_id_sandboxes"), "sandboxes", ["sandbox_id"], ["id"], ondelete="CASCADE"
        )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("secret_fields", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("secret_fields")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_sandbox_id_sandboxes"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_sandbox_id"))
        batch_op.drop_column("sandbox_id")

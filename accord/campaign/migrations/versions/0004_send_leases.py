"""send: the locks of deliveries being sent (the jobs context's lease table, in the campaign database)

Revision ID: 0004_send_leases
Revises: 0003_flows_run_host

A delivery is sent under a lock of `accord.jobs` (one process at a time, a dead holder's lock taken
over). Those locks are rows of `job_leases`; the campaign engine keeps its own, so that an instance on a
machine of its own needs no catalog. When the campaign shares a PostgreSQL database with the catalog, the
catalog's table is already there and serves both (lock names do not collide: `campaign-delivery:...`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_send_leases"
down_revision = "0003_flows_run_host"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("job_leases"):
        return
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
    inspector = sa.inspect(op.get_bind())
    if inspector.has_table("job_leases") and not inspector.has_table("alembic_version"):  # not the catalog's
        op.drop_table("job_leases")

"""access: the activity log, append-only (triggers refuse to update or delete its rows)

Revision ID: 0017_activity_log
Revises: 0016_privacy_jobs
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_activity_log"
down_revision = "0016_privacy_jobs"
branch_labels = None
depends_on = None

REFUSED = "the activity log is append-only"


def upgrade() -> None:
    op.create_table(
        "activity_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("token", sa.String(length=128), nullable=True),
        sa.Column("sandbox", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("object_id", sa.String(length=256), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(length=256), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activity_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_log_user"), ["user"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_log_sandbox"), ["sandbox"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_log_object_type"), ["object_type"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE FUNCTION activity_log_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION '{REFUSED}'; "
                   "END; $$ LANGUAGE plpgsql")  # fmt: skip
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER activity_log_no_{event.lower()} BEFORE {event} ON activity_log "
                       "FOR EACH ROW EXECUTE FUNCTION activity_log_refuse()")  # fmt: skip
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER activity_log_no_{event.lower()} BEFORE {event} ON activity_log "
                       f"BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER activity_log_no_{event} ON activity_log")
        op.execute("DROP FUNCTION activity_log_refuse()")
    op.drop_table("activity_log")

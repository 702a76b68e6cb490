"""destinations: accounts, activation flows, runs, dead letters

Revision ID: 0012_destinations
Revises: 0011_ingest_content_hash
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_destinations"
down_revision = "0011_ingest_content_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "destination_accounts",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.String(), nullable=False),
        sa.Column("secret_fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sandbox_id", "name"),
    )
    with op.batch_alter_table("destination_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_destination_accounts_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "activation_flows",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=24), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["destination_accounts.id"],
        ),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sandbox_id", "name"),
    )
    with op.batch_alter_table("activation_flows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activation_flows_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activation_flows_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "activation_dead_letters",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("flow_id", sa.String(length=24), nullable=False),
        sa.Column("run_id", sa.String(length=24), nullable=True),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replay_status", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["flow_id"], ["activation_flows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activation_dead_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activation_dead_letters_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activation_dead_letters_sandbox_id"), ["sandbox_id"], unique=False)

    op.create_table(
        "activation_runs",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=False),
        sa.Column("flow_id", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("profiles_received", sa.BigInteger(), nullable=False),
        sa.Column("identities_activated", sa.BigInteger(), nullable=False),
        sa.Column("profiles_failed", sa.BigInteger(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("audiences", sa.JSON(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["flow_id"], ["activation_flows.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_activation_runs_flow_id"), ["flow_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activation_runs_sandbox_id"), ["sandbox_id"], unique=False)

    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activation_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("skip_rate_percent", sa.Float(), nullable=True))
        batch_op.create_foreign_key("fk_alert_subscriptions_activation_id", "activation_flows", ["activation_id"],
                                    ["id"], ondelete="CASCADE")  # fmt: skip
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activation_id", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("activation_id")
    with op.batch_alter_table("alert_subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alert_subscriptions_activation_id", type_="foreignkey")
        batch_op.drop_column("skip_rate_percent")
        batch_op.drop_column("activation_id")
    with op.batch_alter_table("activation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_runs_sandbox_id"))
        batch_op.drop_index(batch_op.f("ix_activation_runs_flow_id"))

    op.drop_table("activation_runs")
    with op.batch_alter_table("activation_dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_dead_letters_sandbox_id"))
        batch_op.drop_index(batch_op.f("ix_activation_dead_letters_flow_id"))

    op.drop_table("activation_dead_letters")
    with op.batch_alter_table("activation_flows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activation_flows_sandbox_id"))
        batch_op.drop_index(batch_op.f("ix_activation_flows_account_id"))

    op.drop_table("activation_flows")
    with op.batch_alter_table("destination_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_destination_accounts_sandbox_id"))

    op.drop_table("destination_accounts")

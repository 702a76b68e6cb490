"""access: users, custom roles, role grants per sandbox; tokens belong to a user, may be narrowed and expire

Revision ID: 0015_users_and_roles
Revises: 0014_schema_contracts

The tokens already there keep what they could do. They all come to belong to a user named `admin`, who
holds the built-in `admin` role in every sandbox. An `admin` token stays unnarrowed; a `member` token
is narrowed to a custom role `member` made here with every permission but the two home-wide ones
(Manage Sandboxes, Manage Users and Roles), which is what a member token could do; its sandbox scope
is kept.
"""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015_users_and_roles"
down_revision = "0014_schema_contracts"
branch_labels = None
depends_on = None

MEMBER_PERMISSIONS = [
    "View Sources", "Manage Sources", "View Datasets", "Manage Datasets", "View Schemas", "Manage Schemas",
    "View Identity Namespaces", "Manage Identity Namespaces", "View Profiles", "Manage Profiles",
    "View Merge Policies", "Manage Merge Policies", "View Segments", "Manage Segments", "View Destinations",
    "Manage Destinations", "Activate Destinations", "View Campaign", "Manage Campaign", "Apply Data Usage Labels",
    "View Data Usage Policies", "Manage Data Usage Policies", "Manage Privacy Jobs", "View User Activity Log",
]  # fmt: skip
"""Written out, not imported: a migration must mean the same thing whatever the code becomes."""


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=256), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "roles",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", sa.String(length=24), nullable=False),
        sa.Column("user_id", sa.String(length=24), nullable=False),
        sa.Column("role", sa.String(length=64), nullable=False),
        sa.Column("sandbox_id", sa.String(length=24), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("role_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_grants_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_grants_sandbox_id"), ["sandbox_id"], unique=False)
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column("role", existing_type=sa.String(length=32), type_=sa.String(length=64), nullable=True)
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_api_tokens_user_id_users"), "users", ["user_id"], ["id"], ondelete="CASCADE"
        )
    _tokens_to_users()


ROLES = sa.table("roles", *(sa.column(c) for c in ("id", "name", "description", "created_at")),
                 sa.column("permissions", sa.JSON))  # fmt: skip


def _tokens_to_users() -> None:
    bind = op.get_bind()
    tokens = sa.table("api_tokens", sa.column("id"), sa.column("role"), sa.column("user_id"))
    roles = bind.execute(sa.select(tokens.c.role).distinct()).scalars().all()
    if not roles:
        return  # a new home: `accord init` makes its first user
    now = datetime.now(UTC)
    owner = secrets.token_hex(12)
    op.bulk_insert(
        sa.table("users", *(sa.column(c) for c in ("id", "name", "email", "kind", "password_hash", "created_at"))),
        [{"id": owner, "name": "admin", "email": None, "kind": "person", "password_hash": None, "created_at": now}],
    )
    op.bulk_insert(
        sa.table("role_grants", *(sa.column(c) for c in ("id", "user_id", "role", "sandbox_id", "created_at"))),
        [{"id": secrets.token_hex(12), "user_id": owner, "role": "admin", "sandbox_id": None, "created_at": now}],
    )
    if "member" in roles:
        op.bulk_insert(
            ROLES,
            [{"id": secrets.token_hex(12), "name": "member", "permissions": MEMBER_PERMISSIONS, "created_at": now,
              "description": "what member tokens could do before roles: all but managing sandboxes, users and roles"}],
        )  # fmt: skip
    bind.execute(sa.update(tokens).values(user_id=owner))
    bind.execute(sa.update(tokens).where(tokens.c.role == "admin").values(role=None))


def downgrade() -> None:
    bind = op.get_bind()
    tokens = sa.table("api_tokens", sa.column("role"))
    bind.execute(sa.update(tokens).where(tokens.c.role.is_(None)).values(role="admin"))
    bind.execute(sa.update(tokens).where(tokens.c.role != "admin").values(role="member"))
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_api_tokens_user_id_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))
        batch_op.alter_column("role", existing_type=sa.String(length=64), type_=sa.String(length=32), nullable=False)
        batch_op.drop_column("expires_at")
        batch_op.drop_column("user_id")
    op.drop_table("role_grants")
    op.drop_table("roles")
    op.drop_table("users")

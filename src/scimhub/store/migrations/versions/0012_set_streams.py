"""RFC 9967 SETs: per-tenant signing keys, SET streams (push and poll), poll acks, delivery log.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_Pk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "set_signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_set_signing_keys_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kid", name="pk_set_signing_keys"),
    )
    op.create_index("ix_set_signing_keys_tenant_id", "set_signing_keys", ["tenant_id"])
    op.create_table(
        "set_streams",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("url", sa.Text()),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("token_digest", sa.String(64)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.String(32)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.String(32)),
        sa.Column("allow_private", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_set_streams_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_set_streams"),
    )
    op.create_index("ix_set_streams_tenant_id", "set_streams", ["tenant_id"])
    op.create_table(
        "set_acks",
        sa.Column("stream_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["set_streams.id"], name="fk_set_acks_stream_id_set_streams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("stream_id", "seq", name="pk_set_acks"),
    )
    op.create_table(
        "set_attempts",
        sa.Column("pk", _Pk, autoincrement=True, nullable=False),
        sa.Column("stream_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.String(32), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("latency_ms", sa.Integer()),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["stream_id"], ["set_streams.id"], name="fk_set_attempts_stream_id_set_streams", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pk", name="pk_set_attempts"),
    )
    op.create_index("ix_set_attempts_stream_id_pk", "set_attempts", ["stream_id", "pk"])


def downgrade() -> None:
    op.drop_table("set_attempts")
    op.drop_table("set_acks")
    op.drop_table("set_streams")
    op.drop_table("set_signing_keys")

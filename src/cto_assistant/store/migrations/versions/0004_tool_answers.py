"""shared tool answers

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 19:00:00.000000

The newest answer of each dashboard tool call, so that every process on the store can serve
it (see `cto_assistant.tools.cache`). Starts empty: the first warm-up fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cto_assistant.store.types


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('tool_answer',
    sa.Column('call_hash', sa.String(length=64), nullable=False),
    sa.Column('tool', sa.String(length=64), nullable=False),
    sa.Column('data_version', sa.Integer(), nullable=False),
    sa.Column('computed_for', cto_assistant.store.types.UTCDateTime(), nullable=False),
    sa.Column('stored_at', cto_assistant.store.types.UTCDateTime(), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('call_hash', name=op.f('pk_tool_answer'))
    )


def downgrade() -> None:
    op.drop_table('tool_answer')

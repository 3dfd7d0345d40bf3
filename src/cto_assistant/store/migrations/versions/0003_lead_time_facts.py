"""lead-time facts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 16:00:00.000000

The deployment changes' lead-time facts (see `cto_assistant.store.lead_time_facts`) in their
own table. Every deployment already stored comes stale: the DORA query computes it live, as
before this revision, until the first refresh (at the end of the next sync round) computes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import cto_assistant.store.types


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lead_time_change',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('deployment_source_id', sa.String(length=255), nullable=False),
    sa.Column('repo', sa.String(length=255), nullable=True),
    sa.Column('pr_number', sa.Integer(), nullable=True),
    sa.Column('sha', sa.String(length=64), nullable=False),
    sa.Column('first_commit_at', cto_assistant.store.types.UTCDateTime(), nullable=True),
    sa.Column('own_commits', sa.Integer(), nullable=False),
    sa.Column('pr_first_commit_at', cto_assistant.store.types.UTCDateTime(), nullable=True),
    sa.Column('pr_created_at', cto_assistant.store.types.UTCDateTime(), nullable=True),
    sa.Column('pr_first_review_at', cto_assistant.store.types.UTCDateTime(), nullable=True),
    sa.Column('pr_merged_at', cto_assistant.store.types.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_time_change'))
    )
    with op.batch_alter_table('lead_time_change', schema=None) as batch_op:
        batch_op.create_index('ix_lead_time_change_deployment', ['deployment_source_id', 'repo', 'pr_number', 'sha', 'first_commit_at', 'own_commits', 'pr_first_commit_at', 'pr_created_at', 'pr_first_review_at', 'pr_merged_at'], unique=False)

    op.create_table('lead_time_stale',
    sa.Column('deployment_source_id', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('deployment_source_id', name=op.f('pk_lead_time_stale'))
    )
    with op.batch_alter_table('deployment_change', schema=None) as batch_op:
        batch_op.create_index('ix_deployment_change_repo_pr_number', ['repo', 'pr_number'], unique=False)
        batch_op.create_index('ix_deployment_change_sha', ['sha'], unique=False)

    # every deployment that carried a change: stale, computed by the first refresh
    op.execute(
        'INSERT INTO lead_time_stale (deployment_source_id) '
        'SELECT DISTINCT deployment_source_id FROM deployment_change'
    )


def downgrade() -> None:
    with op.batch_alter_table('deployment_change', schema=None) as batch_op:
        batch_op.drop_index('ix_deployment_change_sha')
        batch_op.drop_index('ix_deployment_change_repo_pr_number')

    op.drop_table('lead_time_stale')
    with op.batch_alter_table('lead_time_change', schema=None) as batch_op:
        batch_op.drop_index('ix_lead_time_change_deployment')

    op.drop_table('lead_time_change')

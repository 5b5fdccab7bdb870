"""service hardening: retention per project, purge marks on jobs and review tasks

Revision ID: 0004
Revises: 0002 (re-chained after the workbench's 0003 at merge time)
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('projects') as batch:
        batch.add_column(sa.Column('retention_days', sa.Integer(), nullable=True))
    with op.batch_alter_table('jobs') as batch:
        batch.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('review_tasks') as batch:
        batch.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('review_tasks') as batch:
        batch.drop_column('purged_at')
    with op.batch_alter_table('jobs') as batch:
        batch.drop_column('purged_at')
    with op.batch_alter_table('projects') as batch:
        batch.drop_column('retention_days')

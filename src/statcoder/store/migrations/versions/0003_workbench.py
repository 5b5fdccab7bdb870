"""coder workbench: accounts, sessions, claims, decisions, settings, retrain runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('review_tasks') as batch:
        batch.add_column(sa.Column('lease_until', TZ, nullable=True))
        batch.add_column(sa.Column('coders_needed', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('assigned_to', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('margin', sa.Float(), nullable=True))
        batch.add_column(sa.Column('fields', sa.Text(), nullable=True))
    op.create_table(
        'users',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('display_name', sa.String(length=200), nullable=False),
        sa.Column('password_hash', sa.String(length=300), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('disabled_at', TZ, nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('username'),
    )
    op.create_table(
        'memberships',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=20), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id', 'project_id'),
    )
    op.create_table(
        'web_sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('csrf_token', sa.String(length=64), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('expires_at', TZ, nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash'),
    )
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'], unique=False)
    op.create_table(
        'workbench_settings',
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('double_coding_rate', sa.Float(), nullable=False),
        sa.Column('active_learning', sa.Boolean(), nullable=False),
        sa.Column('lease_seconds', sa.Integer(), nullable=False),
        sa.Column('updated_at', TZ, nullable=False),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id'),
    )
    op.create_table(
        'task_claims',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('lease_until', TZ, nullable=False),
        sa.Column('skipped', sa.Boolean(), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['review_tasks.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_task_claims_task', 'task_claims', ['task_id', 'user_id'], unique=False)
    op.create_index('ix_task_claims_user', 'task_claims', ['project_id', 'user_id', 'lease_until'],
                    unique=False)
    op.create_table(
        'task_decisions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('task_id', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('username', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('code', sa.String(length=50), nullable=True),
        sa.Column('level', sa.Integer(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('edited_text', sa.Text(), nullable=True),
        sa.Column('model_version', sa.String(length=64), nullable=False),
        sa.Column('time_spent_s', sa.Float(), nullable=True),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('undone_at', TZ, nullable=True),
        sa.ForeignKeyConstraint(['task_id'], ['review_tasks.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_task_decisions_task', 'task_decisions', ['task_id', 'id'], unique=False)
    op.create_index('ix_task_decisions_project', 'task_decisions', ['project_id', 'id'], unique=False)
    op.create_table(
        'retrain_runs',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('project_id', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('active_version', sa.String(length=64), nullable=True),
        sa.Column('candidate_version', sa.String(length=64), nullable=True),
        sa.Column('n_train', sa.Integer(), nullable=False),
        sa.Column('n_decisions', sa.Integer(), nullable=False),
        sa.Column('n_heldout', sa.Integer(), nullable=False),
        sa.Column('comparison_json', sa.Text(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_by', sa.String(length=100), nullable=False),
        sa.Column('created_at', TZ, nullable=False),
        sa.Column('finished_at', TZ, nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_retrain_runs_project', 'retrain_runs', ['project_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_retrain_runs_project', table_name='retrain_runs')
    op.drop_table('retrain_runs')
    op.drop_index('ix_task_decisions_project', table_name='task_decisions')
    op.drop_index('ix_task_decisions_task', table_name='task_decisions')
    op.drop_table('task_decisions')
    op.drop_index('ix_task_claims_user', table_name='task_claims')
    op.drop_index('ix_task_claims_task', table_name='task_claims')
    op.drop_table('task_claims')
    op.drop_table('workbench_settings')
    op.drop_index('ix_web_sessions_user_id', table_name='web_sessions')
    op.drop_table('web_sessions')
    op.drop_table('memberships')
    op.drop_table('users')
    with op.batch_alter_table('review_tasks') as batch:
        batch.drop_column('fields')
        batch.drop_column('margin')
        batch.drop_column('assigned_to')
        batch.drop_column('coders_needed')
        batch.drop_column('lease_until')

"""privacy: audit log and retention runs

Revision ID: 0003_privacy
Revises: 0002_channel_nonces
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0003_privacy'
down_revision = '0002_channel_nonces'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('actor_role', sa.String(length=16), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('subject_kind', sa.String(length=16), nullable=False),
        sa.Column('subject_id', sa.String(length=128), nullable=False),
        sa.Column('unmasked', sa.Boolean(), nullable=False),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.Column('detail', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'])
    op.create_index('ix_audit_log_actor', 'audit_log', ['actor'])
    op.create_index('ix_audit_log_action', 'audit_log', ['action'])
    op.create_index('ix_audit_log_subject_id', 'audit_log', ['subject_id'])
    op.create_table(
        'retention_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scheduled_day', sa.String(length=10), nullable=True),
        sa.Column('trigger', sa.String(length=16), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('started_at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('scheduled_day', name='uq_retention_runs_day'),
    )


def downgrade() -> None:
    op.drop_table('retention_runs')
    op.drop_index('ix_audit_log_subject_id', table_name='audit_log')
    op.drop_index('ix_audit_log_action', table_name='audit_log')
    op.drop_index('ix_audit_log_actor', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')

"""throttle hits: lock-outs and rate limits kept in the store

Revision ID: 0004_throttle_hits
Revises: 0003_privacy
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0004_throttle_hits'
down_revision = '0003_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'throttle_hits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('member', sa.String(length=64), nullable=False),
        sa.Column('at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_throttle_hits_scope_key_at', 'throttle_hits', ['scope', 'key', 'at'])
    op.create_index('ix_throttle_hits_at', 'throttle_hits', ['at'])


def downgrade() -> None:
    op.drop_index('ix_throttle_hits_at', table_name='throttle_hits')
    op.drop_index('ix_throttle_hits_scope_key_at', table_name='throttle_hits')
    op.drop_table('throttle_hits')

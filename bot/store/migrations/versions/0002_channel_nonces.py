"""channel nonces: WeChat/WeCom callback nonces seen recently (replay refusal)

Revision ID: 0002_channel_nonces
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0002_channel_nonces'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_nonces',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('request_sha256', sa.String(length=64), nullable=False),
    sa.Column('seen_at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'nonce')
    )
    with op.batch_alter_table('channel_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channel_nonces_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('channel_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channel_nonces_seen_at'))
    op.drop_table('channel_nonces')

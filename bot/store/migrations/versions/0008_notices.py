"""notices: channel bindings, subscriptions, notice settings, ad-hoc notices, the delivery
log (one row per notice, event and binding: the exactly-once claim), prepaid balances

Revision ID: 0008_notices
Revises: 0007_dashboard_days
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0008_notices'
down_revision = '0007_dashboard_days'
branch_labels = None
depends_on = None

UTC = bot.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('balance', sa.Numeric(precision=12, scale=2), nullable=True))
    op.create_table(
        'customer_bindings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('account_no', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('channel_user', sa.String(length=128), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=True),
        sa.Column('sms_consent', sa.Boolean(), nullable=False, server_default=sa.text('false')),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('unbound_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['account_no'], ['customers.account_no']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_customer_bindings_account_no', 'customer_bindings', ['account_no'])
    op.create_index('ix_customer_bindings_channel_user', 'customer_bindings', ['channel', 'channel_user'])
    op.create_table(
        'notice_subscriptions',
        sa.Column('binding_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.ForeignKeyConstraint(['binding_id'], ['customer_bindings.id']),
        sa.PrimaryKeyConstraint('binding_id', 'kind'),
    )
    op.create_table(
        'notice_settings',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', UTC, nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_table(
        'adhoc_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('area', sa.String(length=128), nullable=False),
        sa.Column('scope', sa.JSON(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('sent_by', sa.String(length=64), nullable=False),
        sa.Column('recipients', sa.Integer(), nullable=False),
        sa.Column('created_at', UTC, nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'notice_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('event_key', sa.String(length=128), nullable=False),
        sa.Column('binding_id', sa.Integer(), nullable=False),
        sa.Column('account_no', sa.String(length=10), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('urgent', sa.Boolean(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTC, nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('adhoc_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTC, nullable=False),
        sa.Column('sent_at', UTC, nullable=True),
        sa.ForeignKeyConstraint(['binding_id'], ['customer_bindings.id']),
        sa.ForeignKeyConstraint(['adhoc_id'], ['adhoc_notices.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'event_key', 'binding_id', name='uq_notice_deliveries_once'),
    )
    op.create_index('ix_notice_deliveries_status_next', 'notice_deliveries', ['status', 'next_attempt_at'])
    op.create_index('ix_notice_deliveries_created_at', 'notice_deliveries', ['created_at'])
    op.create_index('ix_notice_deliveries_binding_id', 'notice_deliveries', ['binding_id'])
    op.create_index('ix_notice_deliveries_account_no', 'notice_deliveries', ['account_no'])


def downgrade() -> None:
    op.drop_table('notice_deliveries')
    op.drop_table('adhoc_notices')
    op.drop_table('notice_settings')
    op.drop_table('notice_subscriptions')
    op.drop_table('customer_bindings')
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('balance')

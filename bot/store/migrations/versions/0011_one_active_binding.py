"""one active binding: a partial unique index on customer_bindings (channel, channel_user,
account_no) where unbound_at IS NULL, so two gateways binding the same person to the same account
at once make one row (duplicates made before it are ended first, the oldest kept)

Revision ID: 0011_one_active_binding
Revises: 0010_ticket_status_deliveries
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_one_active_binding'
down_revision = '0010_ticket_status_deliveries'
branch_labels = None
depends_on = None

ACTIVE = sa.text('unbound_at IS NULL')


def upgrade() -> None:
    op.execute(
        "UPDATE customer_bindings SET unbound_at = created_at "
        "WHERE unbound_at IS NULL AND EXISTS (SELECT 1 FROM customer_bindings older "
        "WHERE older.channel = customer_bindings.channel AND older.channel_user = customer_bindings.channel_user "
        "AND older.account_no = customer_bindings.account_no AND older.unbound_at IS NULL "
        "AND older.id < customer_bindings.id)")
    op.create_index('uq_customer_bindings_active', 'customer_bindings', ['channel', 'channel_user', 'account_no'],
                    unique=True, sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index('uq_customer_bindings_active', table_name='customer_bindings')

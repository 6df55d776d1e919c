"""ticket-status notices in the delivery log: a delivery's recipient is a binding or, for a
ticket's status, the conversation the ticket came from (binding_id NULL, conversation_id set,
its own partial unique key: one row per ticket event and conversation); a ticket may have no
account

Revision ID: 0010_ticket_status_deliveries
Revises: 0009_adhoc_request_key
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_ticket_status_deliveries'
down_revision = '0009_adhoc_request_key'
branch_labels = None
depends_on = None

WITHOUT_BINDING = sa.text('binding_id IS NULL')


def upgrade() -> None:
    with op.batch_alter_table('notice_deliveries') as batch:
        batch.add_column(sa.Column('conversation_id', sa.String(length=128), nullable=True))
        batch.alter_column('binding_id', existing_type=sa.Integer(), nullable=True)
        batch.alter_column('account_no', existing_type=sa.String(length=10), nullable=True)
    op.create_index('uq_notice_deliveries_once_conversation', 'notice_deliveries',
                    ['kind', 'event_key', 'conversation_id'], unique=True,
                    sqlite_where=WITHOUT_BINDING, postgresql_where=WITHOUT_BINDING)


def downgrade() -> None:
    op.drop_index('uq_notice_deliveries_once_conversation', table_name='notice_deliveries')
    op.execute("DELETE FROM notice_deliveries WHERE binding_id IS NULL")
    with op.batch_alter_table('notice_deliveries') as batch:
        batch.alter_column('account_no', existing_type=sa.String(length=10), nullable=False)
        batch.alter_column('binding_id', existing_type=sa.Integer(), nullable=False)
        batch.drop_column('conversation_id')

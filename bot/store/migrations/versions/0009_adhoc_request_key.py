"""adhoc request key: the send form's one-time key of an ad-hoc notice, unique, so a double
submit (or two gateways receiving the same form) sends the notice once

Revision ID: 0009_adhoc_request_key
Revises: 0008_notices
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_adhoc_request_key'
down_revision = '0008_notices'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('adhoc_notices', sa.Column('request_key', sa.String(length=64), nullable=True))
    op.create_index('ix_adhoc_notices_request_key', 'adhoc_notices', ['request_key'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_adhoc_notices_request_key', table_name='adhoc_notices')
    with op.batch_alter_table('adhoc_notices') as batch:
        batch.drop_column('request_key')

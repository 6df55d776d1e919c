"""agent tools: canned replies, labels, staff-only conversation notes, availability,
ticket assignee, console search index

Revision ID: 0005_agent_tools
Revises: 0004_throttle_hits
"""
from alembic import op
import sqlalchemy as sa
import bot.store.types


revision = '0005_agent_tools'
down_revision = '0004_throttle_hits'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'canned_replies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('shortcut', sa.String(length=32), nullable=False),
        sa.Column('title', sa.String(length=64), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_by', sa.String(length=64), nullable=False),
        sa.Column('updated_at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('shortcut'),
    )
    op.create_table(
        'labels',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=32), nullable=False),
        sa.Column('description', sa.String(length=255), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    op.create_table(
        'conversation_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=128), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('author', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('data', sa.JSON(), nullable=False),
        sa.Column('created_at', bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_conversation_notes_conversation_id', 'conversation_notes', ['conversation_id'])
    op.create_table(
        'search_terms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('term', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=1), nullable=False),
        sa.Column('ref', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_search_terms_term_kind_ref', 'search_terms', ['term', 'kind', 'ref'])
    op.create_index('ix_search_terms_kind_ref', 'search_terms', ['kind', 'ref'])
    with op.batch_alter_table('staff_users') as batch:
        batch.add_column(sa.Column('availability', sa.String(length=8), nullable=False, server_default='away'))
        batch.add_column(sa.Column('last_seen_at', bot.store.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('assignee', sa.String(length=64), nullable=True))
    op.create_index('ix_tickets_assignee', 'tickets', ['assignee'])


def downgrade() -> None:
    op.drop_index('ix_tickets_assignee', table_name='tickets')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_column('assignee')
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('last_seen_at')
        batch.drop_column('availability')
    op.drop_index('ix_search_terms_kind_ref', table_name='search_terms')
    op.drop_index('ix_search_terms_term_kind_ref', table_name='search_terms')
    op.drop_table('search_terms')
    op.drop_index('ix_conversation_notes_conversation_id', table_name='conversation_notes')
    op.drop_table('conversation_notes')
    op.drop_table('labels')
    op.drop_table('canned_replies')

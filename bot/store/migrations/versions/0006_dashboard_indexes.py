"""dashboard indexes: the period's messages, tickets closed, answers given, survey questions

Revision ID: 0006_dashboard_indexes
Revises: 0005_agent_tools

The dashboard (bot/dashboard/queries.py) reads a period of messages by their time, tickets
by their closing time and satisfaction answers by their time; "was this conversation asked
the survey question" and "the agent's first answer" read partial indexes holding only the
bot's survey questions and the staff's messages. Measured
on a year of data in docs/benchmarks.md.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_dashboard_indexes'
down_revision = '0005_agent_tools'
branch_labels = None
depends_on = None

SURVEY_QUESTIONS = ("请问您对这次服务满意吗？", "为了把服务做得更好，想请您对本次服务做个评价：")
SURVEY_WHERE = "sender = 'bot' AND text IN ({})".format(", ".join(f"'{q}'" for q in SURVEY_QUESTIONS))


def upgrade() -> None:
    # With sender and intent: the period's customer messages by day, hour and intent are read
    # from the index alone (PostgreSQL index-only scan).
    op.create_index('ix_messages_created_at', 'messages', ['created_at', 'sender', 'intent'])
    op.create_index('ix_messages_survey_question', 'messages', ['conversation_id'],
                    postgresql_where=sa.text(SURVEY_WHERE), sqlite_where=sa.text(SURVEY_WHERE))
    op.create_index('ix_messages_staff', 'messages', ['conversation_id', 'created_at'],
                    postgresql_where=sa.text("sender = 'staff'"), sqlite_where=sa.text("sender = 'staff'"))
    op.create_index('ix_tickets_closed_at', 'tickets', ['closed_at'])
    op.create_index('ix_survey_answers_created_at', 'survey_answers', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_survey_answers_created_at', table_name='survey_answers')
    op.drop_index('ix_tickets_closed_at', table_name='tickets')
    op.drop_index('ix_messages_staff', table_name='messages')
    op.drop_index('ix_messages_survey_question', table_name='messages')
    op.drop_index('ix_messages_created_at', table_name='messages')

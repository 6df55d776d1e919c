"""The conversation evaluation (scripts/evaluate_conversations.py, tests/conversations/): its scoring and a
subset through the real stack.
"""

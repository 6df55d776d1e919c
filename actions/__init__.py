"""Custom actions of the assistant, one module per conversation flow.

``rasa run actions --actions actions`` imports every module of this package, which
registers the actions they define.
"""

"""Custom actions of the assistant, one module per conversation flow.

``python -m actions.server --actions actions`` (rasa_sdk behind a token check, actions/server.py)
imports every module of this package, which
registers the actions they define.
"""

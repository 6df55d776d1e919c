"""The action server (actions/): custom actions and dialogue flows against an in-process gateway, their
texts, the API client.
"""

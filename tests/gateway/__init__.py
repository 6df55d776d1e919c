"""The gateway (bot/): REST API, channels (web/socket.io, WeChat, WeCom), hub and store, console, hand-off,
privacy and security, event bus and relay.
"""

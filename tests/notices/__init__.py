"""Proactive notices (bot/notices/): bindings, usage chart, scans, engine, senders, runner, console, ad-hoc
notices, relay, widget.
"""

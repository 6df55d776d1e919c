"""Tickets and response-time rules (bot/tickets.py, bot/sla/, areas.yml): numbering, milestones, rules,
watcher, report, customer notifications.
"""

"""Service that comes to the customer (issue 19): channel bindings, subscriptions and proactive
notices — bill issued, due reminders, overdue, low balance, planned outages, restoration,
abnormal usage, ticket status, ad-hoc notices — sent exactly once per customer and event.

- ``bot.vocabulary.NOTICE_KINDS``: the kinds and their Chinese names;
- ``settings``: what supervisors may change (a kind's switch, reminder days, thresholds, quiet
  hours, the daily cap), with defaults;
- the tables: ``bot.store.models`` ``CustomerBinding``, ``NoticeSubscription``,
  ``NoticeSetting``, ``AdhocNotice``, ``NoticeDelivery`` (migration 0008).
"""

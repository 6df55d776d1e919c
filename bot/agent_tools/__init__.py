"""The agent's everyday tools in the staff console (issue 18), next to Chatwoot's.

- ``ticket_steps``: the next statuses a ticket may take in the console, the assignee / crew;
- ``customers``: a customer page by 户号 with every conversation and ticket of the account;
- ``notes``: private notes, labels from the supervisors' list, transfer to another agent;
- ``canned``: quick replies (快捷回复) with server-filled, escaped variables;
- ``availability``: online / busy / away per agent, the queue rule that uses it;
- ``search``: search over conversations, messages, customers and tickets (jieba terms index);
- ``views``: the console routes of all of these (``setup(app)``).
"""

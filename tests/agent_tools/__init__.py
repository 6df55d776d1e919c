"""The agent's tools in the console (bot/agent_tools/): customer page, notes, labels, transfer, search."""

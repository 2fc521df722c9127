"""Routing: who answers a dialogue — the bot, or a human it is handed to (and why)."""

"""Installed portals: the install flow, tokens, the bot registration."""

"""Dialogues: the answer to a customer's message, its context and its history."""

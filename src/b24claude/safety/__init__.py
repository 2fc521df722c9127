"""Prompt-injection defences: data stays data, instructions stay ours (see README, "Prompt injection")."""

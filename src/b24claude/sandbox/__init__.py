"""Faithful local emulators of the Claude API and of a Bitrix24 portal (tests, demo, benchmarks)."""

"""Usage and cost control: the metered ledger around the LLM port, model routing, monthly budgets, ledger views."""

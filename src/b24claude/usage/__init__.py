"""Usage: the token and cost ledger per portal, dialogue, feature and model."""

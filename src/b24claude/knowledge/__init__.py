"""The company's knowledge base (a simple keyword index for now; hybrid search comes later)."""

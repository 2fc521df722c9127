"""Privacy: Russian-first PII detection, reversible pseudonymisation, the per-portal policy,
retention and the rights of the people in the chats (erase, export)."""

"""Cost control (issue 9 part 6): which model answers what, monthly budgets per portal, ledger views."""

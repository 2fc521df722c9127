"""Supervision: the human in the loop — answers held for an operator's approval, ratings, flags."""

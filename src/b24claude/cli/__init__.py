"""Command-line entry points (thin)."""

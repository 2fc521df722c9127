"""Adapters: one package per external system, translating its data and errors into our ports' types."""

"""Event dispatch in aiogram's shape: one Dispatcher, a tree of Routers, typed handler context."""

from b24claude.dispatch.router import Context, Dispatcher, Handled, Router

__all__ = ["Context", "Dispatcher", "Handled", "Router"]

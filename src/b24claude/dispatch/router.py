"""Routers, filters and middlewares, typed.

Every update, whatever transport brought it (classic POST, imbot.v2 fetch), is fed to one
:class:`Dispatcher`. Routers hold one observer per update type; handlers are registered with a
decorator and optional filters. *Outer* middlewares wrap routing (load the portal, take a
per-dialogue lock); *inner* middlewares wrap the chosen handler (timing). Handlers receive a typed
:class:`Context` instead of an untyped data dict.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar

from b24claude.events.models import Update
from b24claude.ports.store import Portal

U = TypeVar("U")


class Handled(Enum):
    DONE = "done"  # a handler ran
    IGNORED = "ignored"  # no handler wanted the update (unknown event, own message...)


@dataclass(slots=True)
class Context:
    """What a handler knows besides the update itself."""

    portal: Portal
    inbox_id: int
    attempt: int = 1
    extras: dict[str, Any] = field(default_factory=dict)  # for middlewares, e.g. timings


Filter = Callable[[Any, Context], bool]
Handler = Callable[[Any, Context], Awaitable[None]]
Middleware = Callable[[Handler, Any, Context], Awaitable[None]]


@dataclass(slots=True)
class _Registration:
    handler: Handler
    filters: tuple[Filter, ...]


class Observer(Generic[U]):
    """The handlers of one update type, tried in registration order."""

    def __init__(self) -> None:
        self._regs: list[_Registration] = []
        self.inner: list[Middleware] = []

    def __call__(self, *filters: Filter) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._regs.append(_Registration(handler, filters))
            return handler

        return register

    def register(self, handler: Handler, *filters: Filter) -> None:
        self._regs.append(_Registration(handler, filters))

    def find(self, update: Any, ctx: Context) -> Handler | None:
        for reg in self._regs:
            if all(f(update, ctx) for f in reg.filters):
                return _wrap(reg.handler, self.inner)
        return None


def _wrap(handler: Handler, middlewares: list[Middleware]) -> Handler:
    wrapped = handler
    for mw in reversed(middlewares):
        wrapped = _bind(mw, wrapped)
    return wrapped


def _bind(mw: Middleware, nxt: Handler) -> Handler:
    async def call(update: Any, ctx: Context) -> None:
        await mw(nxt, update, ctx)

    return call


class Router:
    def __init__(self, name: str = "router") -> None:
        self.name = name
        self._observers: dict[type, Observer[Any]] = {}
        self._children: list[Router] = []

    def on(self, update_type: type[U]) -> Observer[U]:
        """The observer for one update type (created on first use)."""
        obs = self._observers.get(update_type)
        if obs is None:
            obs = self._observers[update_type] = Observer()
        return obs

    def include(self, router: Router) -> Router:
        self._children.append(router)
        return router

    def resolve(self, update: Update, ctx: Context) -> Handler | None:
        obs = self._observers.get(type(update))
        if obs is not None:
            handler = obs.find(update, ctx)
            if handler is not None:
                return handler
        for child in self._children:
            handler = child.resolve(update, ctx)
            if handler is not None:
                return handler
        return None


class Dispatcher(Router):
    """The root router; its outer middlewares wrap routing itself."""

    def __init__(self) -> None:
        super().__init__("dispatcher")
        self.outer: list[Middleware] = []

    async def feed(self, update: Update, ctx: Context) -> Handled:
        outcome = Handled.IGNORED

        async def route(upd: Any, c: Context) -> None:
            nonlocal outcome
            handler = self.resolve(upd, c)
            if handler is not None:
                await handler(upd, c)
                outcome = Handled.DONE

        await _wrap(route, self.outer)(update, ctx)
        return outcome

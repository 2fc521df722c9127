"""Routers, filters and middlewares, typed.

Every update, whatever transport brought it (classic POST, imbot.v2 fetch), is fed to one
:class:`Dispatcher`. Routers hold one observer per update type; handlers are registered with a
decorator and optional filters. *Outer* middlewares wrap routing (open the dialogue's privacy mask,
bind the row's effects); *inner* middlewares wrap the chosen handler (timing). Handlers receive a
typed :class:`Context` instead of an untyped data dict.

More than one handler may react to one update: the first matching *handler* of the tree runs (as in
aiogram), and so does every matching *listener* (``router.on(X).listen(...)``). A handler may
``ctx.emit()`` a follow-up event (e.g. ``ReplySent``); follow-ups are delivered after the handler
returns, inside the same outer middlewares (same mask, same row effects), to every matching handler
and listener, in registration order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from b24claude.ports.store import Portal

if TYPE_CHECKING:
    from b24claude.dispatch.effects import RowEffects
    from b24claude.ports.privacy import Mask

U = TypeVar("U")


class Handled(Enum):
    DONE = "done"  # a handler ran
    IGNORED = "ignored"  # no handler wanted the update (unknown event, own message...)


@dataclass(slots=True)
class Timings:
    """Time spent outside the process while handling one update (for timing middlewares)."""

    llm_s: float = 0.0  # waiting for Claude, as the client measured it
    llm_calls: int = 0


MaskOpener = Callable[[], Awaitable["Mask"]]


@dataclass(slots=True)
class Context:
    """What a handler knows besides the update itself. Outer middlewares fill the optional parts."""

    portal: Portal
    inbox_id: int
    attempt: int = 1
    effects: RowEffects | None = None  # the row's effects (dispatch.effects.effects_middleware)
    timings: Timings = field(default_factory=Timings)
    mask_opener: MaskOpener | None = None  # privacy.handlers.mask_middleware: the dialogue's mask, lazily
    follow_ups: list[object] = field(default_factory=list)
    # Updates coalesced into this one (the earlier messages of a burst, oldest first; inbox.coalesce):
    # one answer for all; the row's effects (``inbox_id``) are the burst's first row's.
    earlier: tuple[object, ...] = ()

    def emit(self, event: object) -> None:
        """Deliver ``event`` to every handler and listener that wants it, after the current handler."""
        self.follow_ups.append(event)

    async def mask(self) -> Mask:
        """The dialogue's pseudonyms (opened once per update by the privacy middleware)."""
        if self.mask_opener is None:
            raise RuntimeError("no privacy middleware on this dispatcher")
        return await self.mask_opener()

    def row_effects(self) -> RowEffects:
        if self.effects is None:
            raise RuntimeError("no effects middleware on this dispatcher")
        return self.effects


Filter = Callable[[Any, Context], bool]
Handler = Callable[[Any, Context], Awaitable[None]]
Middleware = Callable[[Handler, Any, Context], Awaitable[None]]


@dataclass(slots=True)
class _Registration:
    handler: Handler
    filters: tuple[Filter, ...]
    listener: bool = False


class Observer(Generic[U]):
    """The handlers and listeners of one update type, tried in registration order."""

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

    def listen(self, *filters: Filter) -> Callable[[Handler], Handler]:
        """A listener: runs whenever its filters match, whether or not a handler took the update."""

        def register(handler: Handler) -> Handler:
            self._regs.append(_Registration(handler, filters, listener=True))
            return handler

        return register

    def matching(
        self, update: Any, ctx: Context, *, want_handler: bool
    ) -> tuple[Handler | None, list[Handler]]:
        """The first matching handler (when one is still wanted) and every matching listener."""
        handler: Handler | None = None
        listeners: list[Handler] = []
        for reg in self._regs:
            if reg.listener:
                if all(f(update, ctx) for f in reg.filters):
                    listeners.append(_wrap(reg.handler, self.inner))
            elif want_handler and handler is None and all(f(update, ctx) for f in reg.filters):
                handler = _wrap(reg.handler, self.inner)
        return handler, listeners

    def find(self, update: Any, ctx: Context) -> Handler | None:
        return self.matching(update, ctx, want_handler=True)[0]


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
        """The observer for one update (or follow-up event) type (created on first use)."""
        obs = self._observers.get(update_type)
        if obs is None:
            obs = self._observers[update_type] = Observer()
        return obs

    def include(self, router: Router) -> Router:
        self._children.append(router)
        return router

    def collect(self, update: Any, ctx: Context, *, every: bool = False) -> list[tuple[Handler, bool]]:
        """What reacts to ``update``, in tree order, each with whether it is a handler (not a listener):
        the first matching handler of the tree (every matching one when ``every``) and all matching
        listeners."""
        out: list[tuple[Handler, bool]] = []
        self._collect(update, ctx, out, every=every)
        return out

    def _collect(self, update: Any, ctx: Context, out: list[tuple[Handler, bool]], *, every: bool) -> None:
        obs = self._observers.get(type(update))
        if obs is not None:
            want = every or not any(primary for _, primary in out)
            handler, listeners = obs.matching(update, ctx, want_handler=want)
            if handler is not None:
                out.append((handler, True))
            out.extend((listener, False) for listener in listeners)
        for child in self._children:
            child._collect(update, ctx, out, every=every)

    def resolve(self, update: Any, ctx: Context) -> Handler | None:
        return next((h for h, primary in self.collect(update, ctx) if primary), None)


class Dispatcher(Router):
    """The root router; its outer middlewares wrap routing itself (and the follow-ups it causes)."""

    def __init__(self) -> None:
        super().__init__("dispatcher")
        self.outer: list[Middleware] = []

    async def feed(self, update: Any, ctx: Context) -> Handled:
        outcome = Handled.IGNORED

        async def route(upd: Any, c: Context) -> None:
            nonlocal outcome
            for handler, primary in self.collect(upd, c):
                await handler(upd, c)
                if primary:
                    outcome = Handled.DONE
            await self._drain(c)

        await _wrap(route, self.outer)(update, ctx)
        return outcome

    async def _drain(self, ctx: Context) -> None:
        # Follow-ups of follow-ups are delivered too, breadth first; a bounded count guards a loop.
        for _ in range(100):
            if not ctx.follow_ups:
                return
            event = ctx.follow_ups.pop(0)
            for handler, _ in self.collect(event, ctx, every=True):
                await handler(event, ctx)
        raise RuntimeError("follow-up events keep causing follow-ups")

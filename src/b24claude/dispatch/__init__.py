"""Event dispatch in aiogram's shape: one Dispatcher, a tree of Routers, typed handler context, and the
answer pipeline whose stages the domains hang their steps on."""

from b24claude.dispatch.effects import RowEffects, effects_middleware
from b24claude.dispatch.pipeline import (
    STAGES,
    Classification,
    Flow,
    HandoffRequest,
    MessageContext,
    Pipeline,
    ReplySent,
    Stage,
    Step,
)
from b24claude.dispatch.router import Context, Dispatcher, Handled, Router, Timings

__all__ = [
    "STAGES",
    "Classification",
    "Context",
    "Dispatcher",
    "Flow",
    "Handled",
    "HandoffRequest",
    "MessageContext",
    "Pipeline",
    "ReplySent",
    "Router",
    "RowEffects",
    "Stage",
    "Step",
    "Timings",
    "effects_middleware",
]

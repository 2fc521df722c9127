"""A faithful local emulator of the Claude API (Messages JSON + SSE, count_tokens, models).

Driven by the official `anthropic` SDK over real HTTP on loopback. Start it in-process with
`handle = await serve_claude(ClaudeState())` (then `handle.base_url`, `await handle.stop()`), or as a
process with `python -m b24claude.sandbox.claude --port 8765`. Imports nothing from the product.
"""

from .app import app_factory, create_claude_app, serve_claude
from .brain import Brain, Decision, PromptContext, parse_prompt
from .models import MODELS, ModelSpec, find_model, model_info
from .state import DEFAULT_KEY, ClaudeState, Fault, RateLimits, RecordedRequest
from .tokens import estimate_tokens
from .validation import ApiError

__all__ = [
    "DEFAULT_KEY",
    "MODELS",
    "ApiError",
    "Brain",
    "ClaudeState",
    "Decision",
    "Fault",
    "ModelSpec",
    "PromptContext",
    "RateLimits",
    "RecordedRequest",
    "app_factory",
    "create_claude_app",
    "estimate_tokens",
    "find_model",
    "model_info",
    "parse_prompt",
    "serve_claude",
]

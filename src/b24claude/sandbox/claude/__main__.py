"""`python -m b24claude.sandbox.claude [--host H] [--port P] [--key K ...] [--any-key] [--latency S]`."""

from __future__ import annotations

import argparse

import uvicorn

from .app import create_claude_app
from .state import DEFAULT_KEY, ClaudeState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m b24claude.sandbox.claude", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", action="append", dest="keys", help=f"valid API key (default {DEFAULT_KEY})")
    parser.add_argument("--any-key", action="store_true", help="accept any non-empty API key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before every response")
    args = parser.parse_args(argv)
    state = ClaudeState(
        api_keys=set(args.keys or [DEFAULT_KEY]), accept_any_key=args.any_key, latency=args.latency
    )
    uvicorn.run(create_claude_app(state), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()

"""HTTP entry points (thin): parse, call one service method, map the result."""

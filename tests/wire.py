"""Helpers for reading venue WebSocket streams in tests: every wait is bounded, so a test fails
with a message instead of hanging when the expected frame never comes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

#: Frames read while looking for one before giving up (streams keep flowing meanwhile).
MAX_FRAMES = 2_000


async def recv_json(ws: Any, within: float = 5.0) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), within))


async def first(ws: Any, match: Callable[[Any], bool], what: str, max_frames: int = MAX_FRAMES) -> Any:
    """The first frame for which `match` is true, reading at most `max_frames`."""
    for _ in range(max_frames):
        message = await recv_json(ws)
        if match(message):
            return message
    raise AssertionError(f"no {what} within {max_frames} frames")


async def read_until_closed(ws: Any, within: float = 5.0) -> None:
    """Reads until the connection closes (raises ConnectionClosed) or stays silent `within`."""
    while True:
        await recv_json(ws, within)

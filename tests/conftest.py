"""Shared pytest setup. Every test runs against loopback only; none reaches a real exchange."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Runs every async test on the default asyncio loop and on uvloop (long soaks marked
    ``asyncio_only`` on the default loop alone)."""
    if item.get_closest_marker("asyncio_only"):
        return {"asyncio": asyncio.new_event_loop}
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}

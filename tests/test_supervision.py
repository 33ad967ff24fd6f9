"""Every task of a connector runs under a supervisor (ROADMAP CONN-03, DESIGN decision 14):
a panic made on purpose (``_native.arm_fault``) is caught, the task restarted and told in
``events()``, and data keeps flowing; a task past its restart limit fails the connector, and
every reader is told with :class:`tradewire.ConnectorFailed`, never a quiet end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import tradewire as tw
from tradewire import _native
from tradewire.testing import Simulator

from .books import take


async def next_event(
    events: AsyncIterator[tw.ConnectorEvent], kind: tw.ConnectorEventKind, part: str
) -> tw.ConnectorEvent:
    async with asyncio.timeout(20):
        async for event in events:
            if event.kind is kind and part in event.fields.get("child", ""):
                return event
    raise AssertionError(f"no {kind} of {part}")


async def drain(stream: tw.Stream[tw.Trade | tw.Gap]) -> None:
    """Reads `stream` to its end (what was buffered, then the end or its error)."""
    async with asyncio.timeout(10):
        async for _ in stream:
            pass


@pytest.mark.asyncio
async def test_a_panicking_dispatch_is_restarted_and_trades_keep_flowing() -> None:
    with Simulator(steps_per_second=200) as sim:
        endpoints = sim.endpoints("binance", "spot")
        async with tw.Binance("spot", endpoints=endpoints) as c:
            events = c.events()
            trades = c.trades("BTCUSDT")
            await take(trades, 1)
            # This connector's own dispatch (named by its URL): no other test's task.
            _native.arm_fault(f"dispatch {endpoints.ws_public}")
            restarted = await next_event(events, tw.ConnectorEventKind.TASK_RESTARTED, "dispatch")
            assert "injected panic" in restarted.fields["reason"]
            assert len(await take(trades, 5)) == 5
            trades.close()


@pytest.mark.asyncio
async def test_a_panicking_snapshot_fetch_is_told_and_the_book_syncs_anyway() -> None:
    with Simulator(steps_per_second=50) as sim:
        async with tw.Binance("usdm", endpoints=sim.endpoints("binance", "usdm")) as c:
            events = c.events()
            _native.arm_fault("snapshot btcusdt@depth")
            with await c.book("BTCUSDT", depth=10) as book:
                assert book.is_synced
            panicked = await next_event(events, tw.ConnectorEventKind.TASK_PANICKED, "snapshot")
            assert "injected panic" in panicked.fields["reason"]


@pytest.mark.asyncio
async def test_a_task_past_its_restart_limit_fails_the_connector_for_every_reader() -> None:
    with Simulator(steps_per_second=200) as sim:
        async with tw.Bybit(
            "linear", endpoints=sim.endpoints("bybit", "linear"), restarts=1, clock_interval=0.05
        ) as c:
            events = c.events()
            trades = c.trades("BTCUSDT")
            await take(trades, 1)
            for _ in range(2):  # one restart allowed: the second panic is one too many
                _native.arm_fault("bybit-linear/clock")
            gave_up = await next_event(events, tw.ConnectorEventKind.TASK_GAVE_UP, "clock")
            assert gave_up.fields["restarts"] == "1"
            with pytest.raises(tw.ConnectorFailed, match=r"clock.*gave up"):
                await drain(trades)
            with pytest.raises(tw.ConnectorFailed) as later:
                await c.request("GET", "/v5/market/time")
            assert isinstance(later.value, tw.StreamClosed)


@pytest.mark.asyncio
async def test_a_panic_that_escapes_a_call_is_a_tradewire_error() -> None:
    with pytest.raises(tw.TradewireError, match="internal failure: injected panic"):
        await _native.panicking_call()

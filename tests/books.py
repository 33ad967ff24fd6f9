"""Helpers for book tests: connectors on the simulator, book events, and the comparison of a
live book with the simulator's true book. Every wait is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Unpack

import tradewire as tw
from tradewire.testing import Simulator


def connect(
    sim: Simulator, venue: str, market: str, **options: Unpack[tw.ConnectorOptions]
) -> tw.Binance | tw.Bybit:
    options["endpoints"] = sim.endpoints(venue, market)
    if venue == "binance":
        return tw.Binance(market, **options)  # type: ignore[arg-type]
    return tw.Bybit(market, **options)  # type: ignore[arg-type]


class Events:
    """Collects a connector's book events in the background."""

    def __init__(self, connector: tw.Binance | tw.Bybit) -> None:
        self.seen: list[tw.ConnectorEvent] = []
        self._source = connector.events()
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self._source:
            if event.kind.startswith("book_"):
                self.seen.append(event)

    def of(self, kind: str, symbol: str) -> list[tw.ConnectorEvent]:
        return [e for e in self.seen if e.kind == kind and e.fields["symbol"] == symbol]

    async def wait_for(self, kind: str, symbol: str, count: int = 1, within: float = 10.0) -> None:
        await until(lambda: len(self.of(kind, symbol)) >= count, within, f"{count} {kind} of {symbol}")

    def close(self) -> None:
        self._task.cancel()


async def equals_truth(
    sim: Simulator, book: tw.OrderBook, venue: str, market: str, n: int = 20, within: float = 10.0
) -> None:
    """Pauses the venue's market and waits until the book shows exactly the true best `n` levels
    a side (Binance: at the true update id too); fails with both books if it never does."""
    v, m = sim.native_venue(venue), sim.native_market(market)
    sim.native.pause(v, m, True)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            update_id, bids, asks = sim.native.book(v, m, book.symbol, n)
            view = book.snapshot(n)
            same_id = venue == "bybit" or view.update_id == update_id
            if view.is_synced and same_id and view.bids == bids and view.asks == asks:
                return
            if loop.time() > deadline:
                raise AssertionError(f"{view} != truth at {update_id}: {bids[:3]} / {asks[:3]}")
            await asyncio.sleep(0.02)
    finally:
        sim.native.pause(v, m, False)


async def take(stream: AsyncIterator[object], count: int, within: float = 10.0) -> list[object]:
    out: list[object] = []
    async with asyncio.timeout(within):
        async for item in stream:
            out.append(item)
            if len(out) == count:
                break
    return out


async def until(condition: Callable[[], bool], within: float, what: str | Callable[[], str]) -> None:
    """Polls `condition` (state kept in Rust has nothing to await) until it holds; fails naming
    `what` (or what it returns then: the state that fell short) after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"{what if isinstance(what, str) else what()}: not within {within} s")
        await asyncio.sleep(0.02)

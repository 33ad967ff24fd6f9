"""Hedge mode against the simulator (issue 21, item 5; ROADMAP ORD-01, ACCT-02): orders name
their leg (`position_side`), positions come per leg (keyed `BTCUSDT-LONG` / `-SHORT`), a
closing order reduces by itself and may not take more than its leg holds, and the simulator
keeps the reduce-only rules as each venue does (Binance refuses what is too large, Bybit trims
it; both refuse a close of nothing)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, resting_buy, trader

pytestmark = pytest.mark.asyncio

DERIVATIVES = [("binance", "usdm"), ("bybit", "linear")]
LONG, SHORT = f"{SYMBOL}-LONG", f"{SYMBOL}-SHORT"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


@asynccontextmanager
async def hedged(sim: Simulator, venue: str, market: str) -> AsyncIterator[tw.Binance | tw.Bybit]:
    async with trader(sim, venue, market) as c:
        await c.set_position_mode("HEDGE", None if venue == "binance" else SYMBOL)
        yield c


async def lot(c: tw.Binance | tw.Bybit) -> Decimal:
    return (await c.symbol_info(SYMBOL)).step_size * 1000


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_both_legs_open_and_close_apart(sim: Simulator, venue: str, market: str) -> None:
    async with hedged(sim, venue, market) as c:
        q = await lot(c)
        long = await c.place_market(SYMBOL, "BUY", q * 2, position_side="LONG")
        short = await c.place_market(SYMBOL, "SELL", q, position_side=tw.PositionSide.SHORT)
        assert (long.position_side, long.reduce_only) == (tw.PositionSide.LONG, False)
        assert (short.position_side, short.reduce_only) == (tw.PositionSide.SHORT, False)
        mine = await c.positions()
        truth = sim.positions(venue, market)
        assert set(mine) == set(truth) == {LONG, SHORT}
        for key, want_side, want_size in (
            (LONG, tw.PositionSide.LONG, q * 2),
            (SHORT, tw.PositionSide.SHORT, q),
        ):
            p = mine[key]
            assert (p.symbol, p.position_side, p.side, p.size) == (SYMBOL, want_side, want_side, want_size)
            assert p.entry_price == truth[key].entry_price
        # Closing half the long leg: a SELL on LONG, reduce-only by itself.
        close = await c.place_market(SYMBOL, "SELL", q, position_side="LONG")
        assert (close.position_side, close.reduce_only, close.status) == (
            tw.PositionSide.LONG,
            True,
            tw.OrderStatus.FILLED,
        )
        mine = await c.positions(SYMBOL)
        assert (mine[LONG].size, mine[SHORT].size) == (q, q), "the short leg is untouched"
        # Closing the short leg leaves it flat, listed under its key.
        await c.place_market(SYMBOL, "BUY", q, position_side="SHORT", reduce_only=True)
        mine = await c.positions(SYMBOL)
        assert (mine[SHORT].side, mine[SHORT].size) == (tw.PositionSide.FLAT, Decimal(0))
        assert set(sim.positions(venue, market)) == {LONG}
        # An order read back names its leg.
        again = await c.order(SYMBOL, client_order_id=close.client_order_id)
        assert (again.position_side, again.reduce_only) == (tw.PositionSide.LONG, True)


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_a_close_takes_no_more_than_its_leg_holds(sim: Simulator, venue: str, market: str) -> None:
    async with hedged(sim, venue, market) as c:
        q = await lot(c)
        # Nothing to close: refused by either venue, by its own code, under one rule name.
        with pytest.raises(tw.InvalidOrder) as nothing:
            await c.place_market(SYMBOL, "BUY", q, position_side="SHORT")
        assert (nothing.value.rule, nothing.value.code) == (
            "reduce_only",
            -2022 if venue == "binance" else 110017,
        )
        await c.place_market(SYMBOL, "BUY", q, position_side="LONG")
        if venue == "binance":
            # Binance refuses a reduce-only order larger than the position.
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_market(SYMBOL, "SELL", q * 3, position_side="LONG")
            assert refused.value.rule == "reduce_only"
            assert (await c.positions(SYMBOL))[LONG].size == q
        else:
            # Bybit trims it to the position.
            trimmed = await c.place_market(SYMBOL, "SELL", q * 3, position_side="LONG")
            assert (trimmed.status, trimmed.filled_qty) == (tw.OrderStatus.FILLED, q)
            assert (await c.positions(SYMBOL))[LONG].side == tw.PositionSide.FLAT
        assert sim.positions(venue, market).get(SHORT) is None, "no short was ever opened"


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_legs_are_checked_before_anything_is_sent(sim: Simulator, venue: str, market: str) -> None:
    async with hedged(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        counted = (sim.native_venue(venue), sim.native_market("spot" if venue == "bybit" else market))
        before = sum(sim.native.rest_requests(*counted).values())
        with pytest.raises(tw.InvalidOrder) as opening:
            await c.place_limit(SYMBOL, "BUY", qty, price, position_side="LONG", reduce_only=True)
        assert opening.value.rule == "reduce_only"
        with pytest.raises(tw.InvalidOrder) as flat:
            await c.place_limit(SYMBOL, "BUY", qty, price, position_side=tw.PositionSide.FLAT)
        assert flat.value.rule == "position_side"
        with pytest.raises(tw.InvalidArgument):
            await c.place_limit(SYMBOL, "BUY", qty, price, position_side="MIDDLE")  # type: ignore[arg-type]
        assert sum(sim.native.rest_requests(*counted).values()) == before, "nothing was sent"
        # A leg in one-way mode is the venue's refusal (the mode is the venue's to know).
        await c.set_position_mode("ONE_WAY", None if venue == "binance" else SYMBOL)
        with pytest.raises(tw.ExchangeError):
            await c.place_limit(SYMBOL, "BUY", qty, price, position_side="LONG")


async def test_spot_orders_have_no_leg(sim: Simulator) -> None:
    async with trader(sim, "bybit", "spot") as c:
        price, qty = await resting_buy(sim, c, "bybit", "spot")
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.place_limit(SYMBOL, "BUY", qty, price, position_side="LONG")
        assert refused.value.rule == "position_side"


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_one_way_reduce_only_is_the_venues_rule(sim: Simulator, venue: str, market: str) -> None:
    """The simulator keeps reduce-only as the venues do: nothing to reduce is refused; too much
    is refused (Binance) or trimmed (Bybit); a resting reduce-only order the position shrank
    under ends (EXPIRED on Binance, CANCELED on Bybit)."""
    async with trader(sim, venue, market) as c:
        q = await lot(c)
        with pytest.raises(tw.InvalidOrder, match=r"(?i)reduce|truncated"):
            await c.place_market(SYMBOL, "SELL", q, reduce_only=True)
        await c.place_market(SYMBOL, "BUY", q * 4)
        _, ask = sim.best(venue, market, SYMBOL)
        tick = (await c.symbol_info(SYMBOL)).tick_size
        rest = await c.place_limit(SYMBOL, "SELL", q * 3, ask + 100 * tick, reduce_only=True)
        assert rest.reduce_only and rest.position_side is None
        updates = c.order_updates()
        await c.place_market(SYMBOL, "SELL", q * 2)  # not reduce-only: the long falls to 2q
        ended = await asyncio.wait_for(_until_done(updates, rest.client_order_id), 10)
        want = tw.OrderStatus.EXPIRED if venue == "binance" else tw.OrderStatus.CANCELED
        assert ended.status == want
        assert (await c.order(SYMBOL, client_order_id=rest.client_order_id)).status == want
        assert (await c.positions(SYMBOL))[SYMBOL].size == q * 2


async def _until_done(updates: tw.Stream[tw.OrderUpdate], client_order_id: str) -> tw.Order:
    async for u in updates:
        if u.order.client_order_id == client_order_id and u.order.status.is_terminal:
            return u.order
    raise AssertionError("the stream ended")


@pytest.mark.parametrize(("venue", "market"), DERIVATIVES)
async def test_position_updates_come_per_leg(sim: Simulator, venue: str, market: str) -> None:
    async with hedged(sim, venue, market) as c:
        q = await lot(c)
        seen: dict[str, tw.Position] = {}
        updates = c.position_updates()
        # Each step is awaited on the stream: Binance's positions are read by REST after each
        # ACCOUNT_UPDATE, so states that pass within one read are not all shown.
        await c.place_market(SYMBOL, "BUY", q, position_side="LONG")
        await shown(updates, seen, LONG, q)
        await c.place_market(SYMBOL, "SELL", q * 2, position_side="SHORT")
        await shown(updates, seen, SHORT, q * 2)
        await c.place_market(SYMBOL, "SELL", q, position_side="LONG")
        await shown(updates, seen, LONG, Decimal(0))
        assert seen[LONG].side == tw.PositionSide.FLAT
        assert seen[SHORT].position_side == tw.PositionSide.SHORT
        assert seen[LONG].position_side == tw.PositionSide.LONG
        assert SYMBOL not in seen, "no one-way position in hedge mode"


async def shown(
    updates: tw.Stream[tw.Position], seen: dict[str, tw.Position], key: str, size: Decimal
) -> None:
    """Reads position updates into `seen` until `key` shows `size`."""
    async with asyncio.timeout(10):
        while key not in seen or seen[key].size != size:
            p = await updates.recv()
            seen[p.key] = p

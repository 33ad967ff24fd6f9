"""Conditional orders against the simulator (issue 21, item 2; ROADMAP ORD-01): stop and
take-profit orders, market or limit once triggered, on Bybit linear and spot and Binance spot.
One order lifecycle whatever the venue calls it: UNTRIGGERED (off the book; funds held from
placement on Binance spot, from the trigger on Bybit) until the last price reaches the trigger,
then (TRIGGERED on Bybit,) NEW, FILLED ... under the same ids; refusals typed (`trigger_price`
when the price is already there); cancels reach orders the venue keeps apart (Bybit spot's
`orderFilter=StopOrder`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, sim_order, trader

pytestmark = pytest.mark.asyncio

BYBIT = [("bybit", "linear"), ("bybit", "spot")]
MARKETS = [*BYBIT, ("binance", "spot")]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


async def lot(c: tw.Binance | tw.Bybit) -> Decimal:
    return (await c.symbol_info(SYMBOL)).step_size * 1000


async def statuses(updates: tw.Stream[tw.OrderUpdate], cid: str, until: tw.OrderStatus) -> list[tw.Order]:
    """The states `cid` goes through on the order stream, up to `until`."""
    seen: list[tw.Order] = []
    async with asyncio.timeout(10):
        while not seen or seen[-1].status != until:
            u = await updates.recv()
            if u.order.client_order_id == cid:
                seen.append(u.order)
    return seen


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_stop_waits_off_the_book_then_trades_as_the_same_order(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        q = await lot(c)
        _, ask = sim.best(venue, market, SYMBOL)
        funds_before = sim.balances(venue, market)
        updates = c.order_updates()
        stop = await c.place_stop(SYMBOL, "BUY", q, ask, client_order_id="stop-1")
        assert (stop.status, stop.order_type, stop.trigger_price) == (
            tw.OrderStatus.UNTRIGGERED,
            tw.OrderType.MARKET,
            ask,
        )
        assert (stop.trigger_kind, stop.trigger_direction, stop.trigger_by) == (
            tw.TriggerKind.STOP,
            tw.TriggerDirection.RISE,
            tw.TriggerBy.LAST,
        )
        assert sim_order(sim, venue, market, "stop-1").status == tw.OrderStatus.UNTRIGGERED
        held = sim.balances(venue, market)["USDT"].locked - funds_before["USDT"].locked
        if venue == "binance":
            assert held > 0, "Binance spot holds a stop order's funds from placement"
        else:
            assert held == 0, "Bybit holds nothing before the trigger"
        listed = {o.client_order_id: o for o in await c.open_orders(SYMBOL)}
        assert listed["stop-1"].status == tw.OrderStatus.UNTRIGGERED
        assert listed["stop-1"].trigger_price == ask
        # A trade at the ask reaches the trigger: the stop goes to the book as a market order.
        await c.place_market(SYMBOL, "BUY", q)
        seen = await statuses(updates, "stop-1", tw.OrderStatus.FILLED)
        if venue == "bybit":
            assert tw.OrderStatus.TRIGGERED in [o.status for o in seen], "Bybit names the moment"
        assert {o.order_id for o in seen} == {stop.order_id}, "one order through the trigger"
        done = await c.order(SYMBOL, client_order_id="stop-1")
        truth = sim_order(sim, venue, market, "stop-1")
        assert (
            (done.status, done.filled_qty) == (tw.OrderStatus.FILLED, q) == (truth.status, truth.filled_qty)
        )
        assert done.trigger_price == ask


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_take_profit_limit_rests_at_its_price_once_triggered(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        q = await lot(c)
        info = await c.symbol_info(SYMBOL)
        _, ask = sim.best(venue, market, SYMBOL)
        limit = ask + 100 * info.tick_size
        tp = await c.place_take_profit(SYMBOL, "SELL", q, ask, price=limit, client_order_id="tp-1")
        assert (tp.status, tp.order_type, tp.price) == (tw.OrderStatus.UNTRIGGERED, tw.OrderType.LIMIT, limit)
        assert (tp.trigger_kind, tp.trigger_direction) == (
            tw.TriggerKind.TAKE_PROFIT,
            tw.TriggerDirection.RISE,
        )
        await c.place_market(SYMBOL, "BUY", q)  # the venue fires triggers as the trade happens
        fired = await c.order(SYMBOL, client_order_id="tp-1")
        assert (fired.status, fired.order_id) == (tw.OrderStatus.NEW, tp.order_id)
        _, best_ask = sim.best(venue, market, SYMBOL)
        assert best_ask <= limit, "the triggered limit order rests on the book"
        assert sim_order(sim, venue, market, "tp-1").status == tw.OrderStatus.NEW
        await c.cancel(SYMBOL, client_order_id="tp-1")


async def test_a_trigger_the_price_already_reached_is_refused(sim: Simulator) -> None:
    async with trader(sim, "binance", "spot") as bn:
        q = await lot(bn)
        bid, _ = sim.best("binance", "spot", SYMBOL)
        with pytest.raises(tw.InvalidOrder) as refused:
            await bn.place_stop(SYMBOL, "BUY", q, bid - 100)
        assert (refused.value.rule, refused.value.code) == ("trigger_price", -2010)
    async with trader(sim, "bybit", "linear") as c:
        q = await lot(c)
        bid, ask = sim.best("bybit", "linear", SYMBOL)
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.place_stop(SYMBOL, "BUY", q, bid - 100)  # a BUY stop waits for a rise
        assert (refused.value.rule, refused.value.code) == ("trigger_price", 110092)
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.place_take_profit(SYMBOL, "BUY", q, ask + 100)  # a BUY take-profit, a fall
        assert (refused.value.rule, refused.value.code) == ("trigger_price", 110093)
        assert not [o for o in sim.orders("bybit", "linear") if o.trigger_price is not None]


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_untriggered_orders_are_canceled_where_the_venue_keeps_them(
    sim: Simulator, venue: str, market: str
) -> None:
    """Bybit spot keeps conditional orders apart (`orderFilter=StopOrder`): a cancel, a
    cancel-all and the open-order listing reach them all the same; one canceled before its
    trigger ends DEACTIVATED there, CANCELED on linear."""
    async with trader(sim, venue, market) as c:
        q = await lot(c)
        _, ask = sim.best(venue, market, SYMBOL)
        info = await c.symbol_info(SYMBOL)
        one = await c.place_stop(SYMBOL, "BUY", q, ask + 50 * info.tick_size, client_order_id="c-1")
        await c.place_stop(SYMBOL, "BUY", q, ask + 60 * info.tick_size, client_order_id="c-2")
        gone = await c.cancel(SYMBOL, client_order_id="c-1")
        want = tw.OrderStatus.DEACTIVATED if (venue, market) == ("bybit", "spot") else tw.OrderStatus.CANCELED
        assert (gone.order_id, gone.status) == (one.order_id, want)
        assert sim_order(sim, venue, market, "c-1").status == tw.OrderStatus.CANCELED
        # A connector that never saw the order finds and cancels it too.
        async with trader(sim, venue, market) as fresh:
            assert [o.client_order_id for o in await fresh.open_orders(SYMBOL)] == ["c-2"]
            canceled = await fresh.cancel_all(SYMBOL)
            assert [(o.client_order_id, o.status) for o in canceled] == [("c-2", want)]
        assert sim_order(sim, venue, market, "c-2").status == tw.OrderStatus.CANCELED


async def test_a_reduce_only_stop_loss_closes_the_position(sim: Simulator) -> None:
    async with trader(sim, "bybit", "linear") as c:
        q = await lot(c)
        await c.place_market(SYMBOL, "BUY", q)
        bid, _ = sim.best("bybit", "linear", SYMBOL)
        sl = await c.place_stop(SYMBOL, "SELL", q * 5, bid, reduce_only=True, client_order_id="sl-1")
        assert sl.reduce_only and sl.status == tw.OrderStatus.UNTRIGGERED
        await c.place_market(SYMBOL, "SELL", q)  # a trade at the bid: the stop fires...
        # ...against no position any more (the market sell closed it): the venue cancels it.
        assert (await c.order(SYMBOL, client_order_id="sl-1")).status == tw.OrderStatus.CANCELED
        assert sim_order(sim, "bybit", "linear", "sl-1").filled_qty == 0
        assert "BTCUSDT" not in sim.positions("bybit", "linear")


async def test_conditional_orders_are_checked_before_anything_is_sent(sim: Simulator) -> None:
    async with trader(sim, "bybit", "spot") as c, trader(sim, "binance", "usdm") as bn:
        q = await lot(c)
        _, ask = sim.best("bybit", "spot", SYMBOL)
        info = await c.symbol_info(SYMBOL)
        cases: list[tuple[dict[str, object], str]] = [
            ({"trigger_price": ask + info.tick_size / 2}, "tick_size"),
            ({"trigger_price": Decimal(-1)}, "trigger_price"),
            ({"trigger_price": ask + 10, "trigger_by": "MARK"}, "trigger_by"),
        ]
        for extra, rule in cases:
            kw: dict[str, object] = {"trigger_price": ask + 10, **extra}
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_stop(SYMBOL, "BUY", q, **kw)  # type: ignore[arg-type]
            assert refused.value.rule == rule, extra
        with pytest.raises(TypeError):
            await c.place_stop(SYMBOL, "BUY", q, 60000.5)  # type: ignore[arg-type]
        with pytest.raises(tw.InvalidOrder) as later:
            await bn.place_stop(SYMBOL, "BUY", q, ask + 10)
        assert later.value.rule == "trigger", "Binance USD-M's algo orders are not placed yet"
        assert not [o for o in sim.orders("bybit", "spot") if o.trigger_price is not None]

"""Conditional orders against the simulator (issue 21, item 2; ROADMAP ORD-01): stop and
take-profit orders, market or limit once triggered, on all four markets. One order lifecycle
whatever the venue calls it: UNTRIGGERED (off the book; funds held from placement on Binance
spot, from the trigger elsewhere) until the watched price reaches the trigger, then (TRIGGERED
on Bybit and Binance USD-M,) NEW, FILLED ... under the same client id; refusals typed
(`trigger_price` when the price is already there); cancels reach orders the venue keeps apart
(Bybit spot's `orderFilter=StopOrder`, Binance USD-M's algo service, where an order is named by
its algo id until it triggers and by the id of the order it became after)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, sim_order, trader, user_stream_up, writes

pytestmark = pytest.mark.asyncio

BYBIT = [("bybit", "linear"), ("bybit", "spot")]
MARKETS = [*BYBIT, ("binance", "spot"), ("binance", "usdm")]
#: Where a triggered order is named by an id of its own (the algo service's).
ALGO = ("binance", "usdm")


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
        if (venue, market) == ("binance", "spot"):
            assert held > 0, "Binance spot holds a stop order's funds from placement"
        else:
            assert held == 0, "nothing is held before the trigger"
        listed = {o.client_order_id: o for o in await c.open_orders(SYMBOL)}
        assert listed["stop-1"].status == tw.OrderStatus.UNTRIGGERED
        assert listed["stop-1"].trigger_price == ask
        # A trade at the ask reaches the trigger: the stop goes to the book as a market order.
        await c.place_market(SYMBOL, "BUY", q)
        seen = await statuses(updates, "stop-1", tw.OrderStatus.FILLED)
        if (venue, market) != ("binance", "spot"):
            assert tw.OrderStatus.TRIGGERED in [o.status for o in seen], "the venue names the moment"
        truth = sim_order(sim, venue, market, "stop-1")
        if (venue, market) == ALGO:
            # Named by its algo id until it triggers, then by the order it became.
            assert truth.order_id != stop.order_id
            assert [o.order_id for o in seen if o.status == tw.OrderStatus.UNTRIGGERED] in (
                [],
                [stop.order_id],
            )
            assert seen[-1].order_id == truth.order_id
        else:
            assert {o.order_id for o in seen} == {stop.order_id}, "one order through the trigger"
        done = await c.order(SYMBOL, client_order_id="stop-1")
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
        became = sim_order(sim, venue, market, "tp-1").order_id
        assert (fired.status, fired.order_id) == (tw.OrderStatus.NEW, became)
        assert (became == tp.order_id) == ((venue, market) != ALGO)
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
        with pytest.raises(tw.InvalidOrder) as index:
            await bn.place_stop(SYMBOL, "BUY", q, ask + 10, trigger_by="INDEX")
        assert index.value.rule == "trigger_by", "USD-M triggers watch the contract or mark price"
        assert not [o for o in sim.orders("bybit", "spot") if o.trigger_price is not None]
        assert not [o for o in sim.orders("binance", "usdm") if o.trigger_price is not None]


async def test_a_usdm_algo_order_reads_as_one_order_through_its_trigger(sim: Simulator) -> None:
    """Binance USD-M keeps conditional orders in its algo service (since 2025-12-09): the
    connector places them there, finds them there before the trigger (query by algo id or
    client id, listing), and follows `ALGO_UPDATE` into the order they become, whose fills and
    end arrive on the order stream under the same client id."""
    async with trader(sim, "binance", "usdm") as c:
        q = await lot(c)
        info = await c.symbol_info(SYMBOL)
        _, ask = sim.best("binance", "usdm", SYMBOL)
        updates = c.order_updates()
        before = writes(sim, "binance", "usdm")
        limit = ask + 100 * info.tick_size
        stop = await c.place_stop(
            SYMBOL, "BUY", q, ask, price=limit, trigger_by="MARK", client_order_id="algo-1"
        )
        assert (stop.status, stop.order_type, stop.trigger_by) == (
            tw.OrderStatus.UNTRIGGERED,
            tw.OrderType.LIMIT,
            tw.TriggerBy.MARK,
        )
        sent = writes(sim, "binance", "usdm")
        assert sent.get("POST /fapi/v1/algoOrder", 0) - before.get("POST /fapi/v1/algoOrder", 0) == 1
        assert sent.get("POST /fapi/v1/order", 0) == before.get("POST /fapi/v1/order", 0)
        # Before its trigger it is the algo service's: found by its algo id or client id.
        by_id = await c.order(SYMBOL, order_id=stop.order_id)
        by_cid = await c.order(SYMBOL, client_order_id="algo-1")
        assert by_id.client_order_id == by_cid.client_order_id == "algo-1"
        assert by_id.status == by_cid.status == tw.OrderStatus.UNTRIGGERED
        # The service modifies nothing, and USD-M has no cancel-replace: refused before sending.
        with pytest.raises(tw.InvalidOrder) as no_amend:
            await c.amend(SYMBOL, client_order_id="algo-1", qty=q * 2)
        assert no_amend.value.rule == "amend_in_place"
        # A take at the ask moves the mark (the book's mid) past the trigger.
        await c.place_market(SYMBOL, "BUY", q * 5)
        seen: list[tw.Order] = []
        fills: list[tw.Fill] = []
        async with asyncio.timeout(10):
            while not seen or seen[-1].status != tw.OrderStatus.FILLED:
                u = await updates.recv()
                if u.order.client_order_id == "algo-1":
                    seen.append(u.order)
                    fills.extend([u.fill] if u.fill is not None else [])
        truth = sim_order(sim, "binance", "usdm", "algo-1")
        assert [o.status for o in seen][:2] == [tw.OrderStatus.UNTRIGGERED, tw.OrderStatus.TRIGGERED]
        assert seen[0].order_id == stop.order_id != truth.order_id
        assert seen[-1].order_id == truth.order_id
        assert (seen[-1].filled_qty, seen[-1].trigger_price) == (q, ask)
        assert sum(f.qty for f in fills) == q and {f.order_id for f in fills} == {truth.order_id}
        # The trigger price is on the tick grid: a half tick is refused before sending.
        with pytest.raises(tw.InvalidOrder) as off_grid:
            await c.place_stop(SYMBOL, "BUY", q, ask + info.tick_size / 2)
        assert off_grid.value.rule == "tick_size"


async def test_a_usdm_stop_with_nothing_to_reduce_expires_at_its_trigger(sim: Simulator) -> None:
    """A reduce-only stop-loss meets no position when it triggers: the algo service cannot
    place it and ends it EXPIRED, with its reason; nothing trades."""
    async with trader(sim, "binance", "usdm") as c:
        q = await lot(c)
        bid, _ = sim.best("binance", "usdm", SYMBOL)
        await c.place_market(SYMBOL, "BUY", q)
        sl = await c.place_stop(SYMBOL, "SELL", q, bid, reduce_only=True, client_order_id="algo-sl")
        assert sl.reduce_only and sl.status == tw.OrderStatus.UNTRIGGERED
        updates = c.order_updates()
        await user_stream_up(sim, "binance", "usdm")  # the reason is the stream's to tell
        await c.place_market(SYMBOL, "SELL", q)  # closes the position, and trades at the bid
        seen = await statuses(updates, "algo-sl", tw.OrderStatus.EXPIRED)
        assert seen[-1].reject_reason == "Reduce Only reject"
        assert (await c.order(SYMBOL, client_order_id="algo-sl")).status == tw.OrderStatus.EXPIRED
        assert sim_order(sim, "binance", "usdm", "algo-sl").filled_qty == 0


async def test_a_lost_algo_answer_is_resolved_by_lookup_not_resent(sim: Simulator) -> None:
    """ORDR-08 on the algo service: the stop is placed but its answer never comes; the
    connector finds it there by client id (the order endpoint does not know it) and never
    sends it again."""
    v, m = sim.native_venue("binance"), sim.native_market("usdm")
    async with trader(sim, "binance", "usdm", timeout=0.5, recv_window_ms=1000) as c:
        q = await lot(c)
        _, ask = sim.best("binance", "usdm", SYMBOL)
        sim.native.fail_rest(v, m, lose_write_answers=1)
        stop = await c.place_stop(SYMBOL, "BUY", q, ask + 100, client_order_id="algo-lost")
        assert (stop.status, stop.client_order_id) == (tw.OrderStatus.UNTRIGGERED, "algo-lost")
        assert writes(sim, "binance", "usdm").get("POST /fapi/v1/algoOrder") == 1
        assert len([o for o in sim.orders("binance", "usdm") if o.client_order_id == "algo-lost"]) == 1
        gone = await c.cancel(SYMBOL, order_id=stop.order_id)
        assert gone.status == tw.OrderStatus.CANCELED


@pytest.mark.parametrize(("venue", "market"), [("binance", "usdm"), ("bybit", "linear")])
async def test_a_close_position_stop_closes_whatever_the_position_is_then(
    sim: Simulator, venue: str, market: str
) -> None:
    """``close_position=True``: a stop of no quantity (Binance USD-M ``closePosition``, Bybit
    ``closeOnTrigger`` with qty 0) that closes the whole position it meets when it triggers —
    one grown after it was placed included; checked locally before anything is sent."""
    async with trader(sim, venue, market) as c:
        q = await lot(c)
        bid, _ = sim.best(venue, market, SYMBOL)
        await c.place_market(SYMBOL, "BUY", q)
        sl = await c.place_stop(SYMBOL, "SELL", None, bid, close_position=True, client_order_id="close-1")
        assert (sl.status, sl.qty, sl.reduce_only) == (tw.OrderStatus.UNTRIGGERED, None, True)
        await c.place_market(SYMBOL, "BUY", q)  # the position doubles after placement
        assert sim.positions(venue, market)[SYMBOL].size == 2 * q
        await c.place_market(SYMBOL, "SELL", q)  # a trade at the bid fires it
        done = await c.order(SYMBOL, client_order_id="close-1")
        assert (done.status, done.filled_qty) == (tw.OrderStatus.FILLED, q)
        assert SYMBOL not in sim.positions(venue, market) or not sim.positions(venue, market)[SYMBOL].size
        for kw, rule in [
            ({"qty": q}, "close_position"),
            ({"qty": None, "price": bid - 100}, "close_position"),
        ]:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_stop(SYMBOL, "SELL", trigger_price=bid - 200, close_position=True, **kw)  # type: ignore[arg-type]
            assert refused.value.rule == rule, kw
    async with trader(sim, "binance", "spot") as spot:
        with pytest.raises(tw.InvalidOrder) as on_spot:
            await spot.place_stop(SYMBOL, "SELL", None, bid - 200, close_position=True)
        assert on_spot.value.rule == "close_position"

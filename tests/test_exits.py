"""Take-profits and stop-losses the venue places itself (issue 21, item 2: Bybit's TP/SL;
ROADMAP ORD-01), against the simulator over loopback. An entry's attached exits are armed as it
fills, sized by what filled, as orders of their own (no client id: named by their id, their
entry's client id as `parent_client_order_id`); one firing deactivates the other, a closed
position deactivates both. A position's own exits (`trading-stop`) close all of it, follow it
and show on it. Refusals are typed (rule `exits`) and, where they can be, local."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, trader, writes

pytestmark = pytest.mark.asyncio

V, M = "bybit", "linear"


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


def children(sim: Simulator, parent: str) -> dict[tw.TriggerKind | None, tw.Order]:
    """The simulator's exits armed for the entry `parent`, by kind."""
    return {o.trigger_kind: o for o in sim.orders(V, M) if o.parent_client_order_id == parent}


async def until(updates: tw.Stream[tw.OrderUpdate], done: object) -> dict[str, tw.Order]:
    """Orders from the stream, last state by client id, until `done(latest)` holds."""
    latest: dict[str, tw.Order] = {}
    async with asyncio.timeout(10):
        while not done(latest):  # type: ignore[operator]
            u = await updates.recv()
            latest[u.order.client_order_id] = u.order
    return latest


async def test_an_entry_arms_its_exits_as_it_fills_and_one_firing_deactivates_the_other(
    sim: Simulator,
) -> None:
    async with trader(sim, V, M) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        bid, _ = sim.best(V, M, SYMBOL)
        price = bid + tick  # the best bid: it rests, and market flow fills it
        tp = tw.Exit(price + 5 * tick, price=price + 4 * tick)
        updates = c.order_updates()
        entry = await c.place_limit(SYMBOL, "BUY", 3 * q, price, take_profit=tp, stop_loss=price - 5 * tick,
                                    client_order_id="e-1")  # fmt: skip
        assert entry.status == tw.OrderStatus.NEW
        assert entry.take_profit == tp
        assert entry.stop_loss == tw.Exit(price - 5 * tick)
        assert children(sim, "e-1") == {}, "nothing is armed before a fill"
        # Another trader sells q into it: a pair is armed for q.
        sim.take(V, M, SYMBOL, "SELL", q)
        seen = await until(updates, lambda s: sum(o.parent_client_order_id == "e-1" for o in s.values()) == 2)
        exits = {o.trigger_kind: o for o in seen.values() if o.parent_client_order_id == "e-1"}
        take, stop = exits[tw.TriggerKind.TAKE_PROFIT], exits[tw.TriggerKind.STOP]
        assert (take.side, take.order_type, take.price, take.trigger_price, take.qty) == (
            tw.Side.SELL, tw.OrderType.LIMIT, tp.price, tp.trigger_price, q,
        )  # fmt: skip
        assert (stop.side, stop.order_type, stop.trigger_price, stop.qty) == (
            tw.Side.SELL, tw.OrderType.MARKET, price - 5 * tick, q,
        )  # fmt: skip
        assert take.reduce_only and stop.reduce_only
        assert take.status == stop.status == tw.OrderStatus.UNTRIGGERED
        # No client id of their own: named by the venue's id.
        assert take.client_order_id == take.order_id and stop.client_order_id == stop.order_id
        truth = children(sim, "e-1")
        assert {k: o.order_id for k, o in truth.items()} == {k: o.order_id for k, o in exits.items()}
        # A second fill grows the same pair.
        sim.take(V, M, SYMBOL, "SELL", q)
        seen = await until(
            updates, lambda s: s.get(stop.order_id) is not None and s[stop.order_id].qty == 2 * q
        )
        assert (await c.order(SYMBOL, order_id=take.order_id)).qty == 2 * q
        assert {o.qty for o in children(sim, "e-1").values()} == {2 * q}
        listed = [o for o in await c.open_orders(SYMBOL) if o.parent_client_order_id == "e-1"]
        assert {o.order_id for o in listed} == {take.order_id, stop.order_id}
        # The price falls to the stop-loss: it fires and closes what filled; the take-profit
        # is deactivated. The entry's unfilled rest is canceled first (it would fill instead).
        await c.cancel(SYMBOL, client_order_id="e-1")
        sim.take(V, M, SYMBOL, "SELL", 1000 * q, limit=price - 10 * tick)
        seen = await until(
            updates,
            lambda s: (
                s.get(stop.order_id) is not None
                and s[stop.order_id].status == tw.OrderStatus.FILLED
                and s.get(take.order_id) is not None
                and s[take.order_id].status.is_terminal
            ),
        )
        assert seen[take.order_id].status == tw.OrderStatus.DEACTIVATED
        assert seen[stop.order_id].filled_qty == 2 * q
        truth = children(sim, "e-1")
        assert truth[tw.TriggerKind.STOP].status == tw.OrderStatus.FILLED
        assert truth[tw.TriggerKind.TAKE_PROFIT].status.is_terminal
        assert truth[tw.TriggerKind.TAKE_PROFIT].filled_qty == 0
        assert SYMBOL not in sim.positions(V, M), "the stop-loss closed the position"


async def test_a_closed_position_deactivates_the_exits_left_on_it(sim: Simulator) -> None:
    async with trader(sim, V, M) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        _, ask = sim.best(V, M, SYMBOL)
        updates = c.order_updates()
        # A market entry's exits are judged against the last price by the venue.
        await c.place_market(SYMBOL, "BUY", q, take_profit=ask + 500 * tick, stop_loss=ask - 500 * tick,
                             client_order_id="m-1")  # fmt: skip
        armed = children(sim, "m-1")
        assert {o.qty for o in armed.values()} == {q} and len(armed) == 2
        await c.place_market(SYMBOL, "SELL", q, reduce_only=True)
        ids = {o.order_id for o in armed.values()}
        seen = await until(updates, lambda s: all(i in s and s[i].status.is_terminal for i in ids))
        assert {seen[i].status for i in ids} == {tw.OrderStatus.DEACTIVATED}
        assert not [o for o in await c.open_orders(SYMBOL) if o.parent_client_order_id]


async def test_exits_are_canceled_by_their_id_and_by_a_cancel_all(sim: Simulator) -> None:
    """Canceling one of a pair by its id ends the pair; a cancel-all ends every exit too (its
    answer names them by id: they have no client id)."""
    async with trader(sim, V, M) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        _, ask = sim.best(V, M, SYMBOL)
        await c.place_market(SYMBOL, "BUY", q, take_profit=ask + 600 * tick, stop_loss=ask - 600 * tick,
                             client_order_id="x-1")  # fmt: skip
        await c.place_market(SYMBOL, "BUY", q, take_profit=ask + 700 * tick, client_order_id="x-2")
        pair = children(sim, "x-1")
        gone = await c.cancel(SYMBOL, order_id=pair[tw.TriggerKind.TAKE_PROFIT].order_id)
        assert gone.status.is_terminal and gone.parent_client_order_id == "x-1"
        assert {o.status.is_terminal for o in children(sim, "x-1").values()} == {True}
        lone = children(sim, "x-2")[tw.TriggerKind.TAKE_PROFIT]
        canceled = {o.order_id: o for o in await c.cancel_all(SYMBOL)}
        assert canceled[lone.order_id].status.is_terminal
        assert canceled[lone.order_id].parent_client_order_id == "x-2"
        assert children(sim, "x-2")[tw.TriggerKind.TAKE_PROFIT].status.is_terminal
        assert not [o for o in await c.open_orders(SYMBOL) if o.trigger_price is not None]


async def test_exits_are_checked_before_anything_is_sent(sim: Simulator) -> None:
    async with (
        trader(sim, V, M) as c,
        trader(sim, "bybit", "spot") as spot,
        trader(sim, "binance", "usdm") as bn,
    ):
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        bid, _ = sim.best(V, M, SYMBOL)
        price = bid - 100 * tick
        before = sim.native.rest_requests(sim.native_venue(V), sim.native_market("spot"))
        cases: list[tuple[dict[str, object], str]] = [
            ({"take_profit": price - tick}, "take_profit trigger"),  # a BUY's take-profit is above
            ({"stop_loss": price + tick}, "stop_loss trigger"),  # ...and its stop-loss below
            ({"take_profit": tw.Exit(price + tick / 2)}, "tick size"),
            ({"stop_loss": tw.Exit(price - tick, price=Decimal(-1))}, "positive"),
            ({"take_profit": price + tick, "reduce_only": True}, "reducing order"),
        ]
        for extra, words in cases:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_limit(SYMBOL, "BUY", q, price, **extra)  # type: ignore[arg-type]
            assert refused.value.rule == "exits" and words in str(refused.value), (extra, refused.value)
        for other in (spot, bn):
            with pytest.raises(tw.InvalidOrder) as refused:
                await other.place_limit(SYMBOL, "BUY", q, price, take_profit=price + 100 * tick)
            assert refused.value.rule == "exits"
        with pytest.raises(TypeError):
            tw.Exit(1.5)  # type: ignore[arg-type]
        assert sim.native.rest_requests(sim.native_venue(V), sim.native_market("spot")) == before
        assert sim.orders(V, M) == []
        # The venue judges a market entry's exits by the last price: its refusal is typed too.
        _, ask = sim.best(V, M, SYMBOL)
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.place_market(SYMBOL, "SELL", q, take_profit=ask + 100 * tick)
        assert (refused.value.rule, refused.value.code) == ("exits", 10001)
        assert "base_price" in str(refused.value)


async def test_a_position_takes_its_own_exits_which_follow_it(sim: Simulator) -> None:
    async with trader(sim, V, M) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.set_position_exits(SYMBOL, take_profit=Decimal(70000))
        assert refused.value.rule == "exits", "no position: nothing to protect"
        await c.place_market(SYMBOL, "BUY", q)
        _, ask = sim.best(V, M, SYMBOL)
        positions = c.position_updates()
        p = await c.set_position_exits(
            SYMBOL, take_profit=ask + 100 * tick, stop_loss=tw.Exit(ask - 100 * tick, trigger_by="MARK")
        )
        assert (p.size, p.take_profit, p.stop_loss) == (q, ask + 100 * tick, ask - 100 * tick)
        own = [o for o in await c.open_orders(SYMBOL) if o.trigger_price is not None]
        assert len(own) == 2 and all(o.parent_client_order_id is None and o.reduce_only for o in own)
        by_kind = {o.trigger_kind: o for o in own}
        assert by_kind[tw.TriggerKind.STOP].trigger_by == tw.TriggerBy.MARK
        async with asyncio.timeout(10):
            while (await positions.recv()).take_profit != ask + 100 * tick:
                pass
        # Moved: the same order, a new trigger. Set again as it is: nothing to do, no error.
        p = await c.set_position_exits(SYMBOL, take_profit=ask + 20 * tick)
        assert (p.take_profit, p.stop_loss) == (ask + 20 * tick, ask - 100 * tick)
        moved = await c.order(SYMBOL, order_id=by_kind[tw.TriggerKind.TAKE_PROFIT].order_id)
        assert moved.trigger_price == ask + 20 * tick
        await c.set_position_exits(SYMBOL, take_profit=ask + 20 * tick)
        # Removed with 0.
        p = await c.set_position_exits(SYMBOL, stop_loss=0)
        assert (p.take_profit, p.stop_loss) == (ask + 20 * tick, None)
        gone = await c.order(SYMBOL, order_id=by_kind[tw.TriggerKind.STOP].order_id)
        assert gone.status == tw.OrderStatus.DEACTIVATED
        # A wrong side is the venue's refusal; a limit price or nothing at all, ours.
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.set_position_exits(SYMBOL, stop_loss=ask + 500 * tick)
        assert (refused.value.rule, refused.value.code) == ("exits", 10001)
        with pytest.raises(tw.InvalidArgument):
            await c.set_position_exits(SYMBOL, take_profit=tw.Exit(ask + 100 * tick, price=ask))
        with pytest.raises(tw.InvalidArgument):
            await c.set_position_exits(SYMBOL)
        # The position grows: its own take-profit closes all of it when it fires.
        await c.place_market(SYMBOL, "BUY", q)
        sim.take(V, M, SYMBOL, "BUY", 1000 * q, limit=ask + 30 * tick)
        assert SYMBOL not in sim.positions(V, M), "the venue fires it as the trade happens"
        fired = await c.order(SYMBOL, order_id=by_kind[tw.TriggerKind.TAKE_PROFIT].order_id)
        assert (fired.status, fired.filled_qty) == (tw.OrderStatus.FILLED, 2 * q)
        assert (await c.positions(SYMBOL))[SYMBOL].size == 0
    async with trader(sim, "binance", "usdm") as bn:
        with pytest.raises(tw.InvalidArgument):
            await bn.set_position_exits(SYMBOL, take_profit=Decimal(70000))


async def test_a_lost_answer_to_an_entry_with_exits_is_resolved_not_resent(sim: Simulator) -> None:
    async with trader(sim, V, M, timeout=0.5, recv_window_ms=1000) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        _, ask = sim.best(V, M, SYMBOL)
        sim.native.fail_rest(sim.native_venue(V), sim.native_market(M), lose_write_answers=1)
        entry = await c.place_market(SYMBOL, "BUY", q, take_profit=ask + 500 * tick, client_order_id="l-1")
        assert entry.status == tw.OrderStatus.FILLED
        assert entry.take_profit == tw.Exit(ask + 500 * tick)
        assert [o.client_order_id for o in sim.orders(V, M) if o.parent_client_order_id is None] == ["l-1"]
        assert [k for k in children(sim, "l-1")] == [tw.TriggerKind.TAKE_PROFIT]
        assert writes(sim, V, M).get("POST /v5/order/create") == 1


async def test_a_position_s_trailing_stop_follows_the_price_and_closes_it_on_the_way_back(
    sim: Simulator,
) -> None:
    async with trader(sim, V, M) as c:
        info = await c.symbol_info(SYMBOL)
        tick, q = info.tick_size, info.step_size * 100
        await c.place_market(SYMBOL, "BUY", q)
        _, ask = sim.best(V, M, SYMBOL)
        updates = c.order_updates()
        # Active once the price reaches ask + 10 ticks, then 5 ticks behind the best since.
        p = await c.set_position_exits(SYMBOL, trailing_stop=5 * tick, activation_price=ask + 10 * tick)
        assert p.trailing_stop == 5 * tick
        trailer = next(o for o in await c.open_orders(SYMBOL) if o.trigger_price is not None)
        assert (trailer.side, trailer.status, trailer.parent_client_order_id) == (
            tw.Side.SELL, tw.OrderStatus.UNTRIGGERED, None,
        )  # fmt: skip
        assert trailer.trigger_price == ask + 10 * tick, "not active yet: it shows its activation price"
        # The price rises past the activation to ask + 20 ticks: the trigger follows, 5 behind.
        _, _, asks = sim.book(V, M, SYMBOL, 1000)
        last = max(a.price for a in asks if a.price <= ask + 20 * tick)  # where the sweep ends
        sim.take(V, M, SYMBOL, "BUY", 1000 * q, limit=ask + 20 * tick)
        seen = await until(
            updates, lambda s: trailer.order_id in s and s[trailer.order_id].trigger_price == last - 5 * tick
        )
        assert seen[trailer.order_id].status == tw.OrderStatus.UNTRIGGERED
        assert SYMBOL in sim.positions(V, M)
        # Back down 5 ticks or more from the top (the best bid is lower): it fires and closes
        # the whole position.
        sim.take(V, M, SYMBOL, "SELL", q)
        assert SYMBOL not in sim.positions(V, M)
        done = await c.order(SYMBOL, order_id=trailer.order_id)
        assert (done.status, done.filled_qty) == (tw.OrderStatus.FILLED, q)
        # Removed with 0 (here: nothing left to remove; a new position has none).
        await c.place_market(SYMBOL, "BUY", q)
        p = await c.set_position_exits(SYMBOL, trailing_stop=10 * tick)
        assert p.trailing_stop == 10 * tick
        p = await c.set_position_exits(SYMBOL, trailing_stop=0)
        assert p.trailing_stop is None
        with pytest.raises(tw.InvalidArgument):
            await c.set_position_exits(SYMBOL, activation_price=ask)  # activates nothing
        with pytest.raises(tw.InvalidArgument):
            await c.set_position_exits(SYMBOL, trailing_stop=tick / 2)

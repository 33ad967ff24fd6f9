"""One-cancels-the-other order lists on Binance spot (issue 21, item 2; ROADMAP ORD-01):
`place_oco` places a LIMIT_MAKER take-profit and a stop (market or limit) as one list
(`POST /api/v3/orderList/oco`); when one of them trades or triggers, the venue expires the
other; canceling either cancels both. Each leg is an order of its own through the one state
machine; a lost answer is resolved leg by leg by client id, never resent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import SYMBOL, sim_order, trader, user_stream_up, writes

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


async def test_a_filled_take_profit_expires_the_stop(sim: Simulator) -> None:
    async with trader(sim, "binance", "spot") as c:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        bid, ask = sim.best("binance", "spot", SYMBOL)
        front = ask  # behind the level's resting quantity, above the last price
        tp, sl = await c.place_oco(
            SYMBOL, "SELL", q, front, bid - 20 * info.tick_size,
            limit_client_order_id="oco-tp", stop_client_order_id="oco-sl",
        )  # fmt: skip
        assert (tp.client_order_id, tp.status, tp.order_type, tp.price) == (
            "oco-tp", tw.OrderStatus.NEW, tw.OrderType.LIMIT, front,
        )  # fmt: skip
        assert tp.time_in_force == tw.TimeInForce.POST_ONLY
        assert (sl.client_order_id, sl.status, sl.trigger_price, sl.trigger_kind) == (
            "oco-sl", tw.OrderStatus.UNTRIGGERED, bid - 20 * info.tick_size, tw.TriggerKind.STOP,
        )  # fmt: skip
        locked = sim.balances("binance", "spot")["BTC"].locked
        assert locked == q, "the pair holds its quantity once"
        # A buy takes the best ask level, the take-profit with it: the venue expires the stop.
        _, _, asks = sim.book("binance", "spot", SYMBOL)
        await c.place_market(SYMBOL, "BUY", asks[0].qty)
        done = await c.order(SYMBOL, client_order_id="oco-tp")
        gone = await c.order(SYMBOL, client_order_id="oco-sl")
        assert (done.status, gone.status) == (tw.OrderStatus.FILLED, tw.OrderStatus.EXPIRED)
        assert sim_order(sim, "binance", "spot", "oco-sl").status == tw.OrderStatus.EXPIRED
        assert sim.balances("binance", "spot")["BTC"].locked == 0


async def test_a_triggered_stop_expires_the_take_profit(sim: Simulator) -> None:
    async with trader(sim, "binance", "spot") as c:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        bid, ask = sim.best("binance", "spot", SYMBOL)
        updates = c.order_updates()
        tp, sl = await c.place_oco(
            SYMBOL, "SELL", q, ask + 50 * info.tick_size, bid, stop_limit_price=bid - 100 * info.tick_size
        )
        assert sl.order_type == tw.OrderType.LIMIT and sl.price == bid - 100 * info.tick_size
        await user_stream_up(sim, "binance", "spot")  # the expiry's reason is the stream's to tell
        await c.place_market(SYMBOL, "SELL", q)  # trades at the bid: the stop fires
        stop = await c.order(SYMBOL, client_order_id=sl.client_order_id)
        take = await c.order(SYMBOL, client_order_id=tp.client_order_id)
        assert stop.status in (tw.OrderStatus.NEW, tw.OrderStatus.PARTIALLY_FILLED, tw.OrderStatus.FILLED)
        assert take.status == tw.OrderStatus.EXPIRED
        seen: list[tw.Order] = []
        async with asyncio.timeout(10):
            while not seen or seen[-1].reject_reason is None:
                u = await updates.recv()
                if u.order.client_order_id == tp.client_order_id:
                    seen.append(u.order)
        assert seen[-1].status == tw.OrderStatus.EXPIRED
        assert seen[-1].reject_reason == "OCO_TRIGGER"


async def test_canceling_one_leg_cancels_the_list(sim: Simulator) -> None:
    async with trader(sim, "binance", "spot") as c:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        bid, ask = sim.best("binance", "spot", SYMBOL)
        tp, sl = await c.place_oco(SYMBOL, "BUY", q, bid - 30 * info.tick_size, ask + 30 * info.tick_size)
        canceled = await c.cancel(SYMBOL, client_order_id=sl.client_order_id)
        assert canceled.status == tw.OrderStatus.CANCELED
        assert (await c.order(SYMBOL, client_order_id=tp.client_order_id)).status == tw.OrderStatus.CANCELED
        # Another list, canceled by cancel_all from a connector that never saw it.
        tp2, sl2 = await c.place_oco(SYMBOL, "BUY", q, bid - 30 * info.tick_size, ask + 30 * info.tick_size)
        async with trader(sim, "binance", "spot") as fresh:
            assert {o.client_order_id for o in await fresh.open_orders(SYMBOL)} == {
                tp2.client_order_id, sl2.client_order_id,
            }  # fmt: skip
            ended = await fresh.cancel_all(SYMBOL)
        assert {(o.client_order_id, o.status) for o in ended} == {
            (tp2.client_order_id, tw.OrderStatus.CANCELED), (sl2.client_order_id, tw.OrderStatus.CANCELED),
        }  # fmt: skip


async def test_an_oco_is_checked_before_anything_is_sent(sim: Simulator) -> None:
    v, m = sim.native_venue("binance"), sim.native_market("spot")
    async with trader(sim, "binance", "spot") as c, trader(sim, "bybit", "spot") as by:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        bid, ask = sim.best("binance", "spot", SYMBOL)
        before = sim.native.rest_requests(v, m)
        cases: list[tuple[tuple[object, ...], dict[str, object], str]] = [
            ((SYMBOL, "SELL", q, bid - 10, ask + 10), {}, "oco_prices"),  # the limit under the stop
            ((SYMBOL, "SELL", q, ask + info.tick_size / 2, bid - 10), {}, "tick_size"),
            ((SYMBOL, "SELL", q, ask + 10, bid - 10), {"stop_limit_price": Decimal(-1)}, "price"),
        ]
        for args, kw, rule in cases:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_oco(*args, **kw)  # type: ignore[arg-type]
            assert refused.value.rule == rule, args
        assert sim.native.rest_requests(v, m) == before, "nothing was sent"
        with pytest.raises(tw.InvalidArgument):
            await by.place_oco(SYMBOL, "SELL", q, ask + 10, bid - 10)
        # The venue's own refusal: the stop already reached (the last price is under it).
        with pytest.raises(tw.InvalidOrder) as venue:
            await c.place_oco(SYMBOL, "SELL", q, ask + 1000, ask + 500)
        assert (venue.value.rule, venue.value.code) == ("oco_prices", -2010)
        assert not [o for o in sim.orders("binance", "spot") if o.trigger_price is not None]


async def test_a_lost_oco_answer_is_resolved_leg_by_leg(sim: Simulator) -> None:
    v, m = sim.native_venue("binance"), sim.native_market("spot")
    async with trader(sim, "binance", "spot", timeout=0.5, recv_window_ms=1000) as c:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        bid, ask = sim.best("binance", "spot", SYMBOL)
        sim.native.fail_rest(v, m, lose_write_answers=1)
        tp, sl = await c.place_oco(SYMBOL, "SELL", q, ask + 10, bid - 10)
        assert (tp.status, sl.status) == (tw.OrderStatus.NEW, tw.OrderStatus.UNTRIGGERED)
        assert writes(sim, "binance", "spot").get("POST /api/v3/orderList/oco") == 1
        await c.cancel(SYMBOL, client_order_id=tp.client_order_id)

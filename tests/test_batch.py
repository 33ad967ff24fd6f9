"""Batches of places and cancels against the simulator on all four markets (issue 21, item 3):
as few requests as the venue allows (Binance USD-M `batchOrders`, Bybit `create-batch` /
`cancel-batch`; Binance spot, which has none: single requests), one outcome per order — an
order or a typed error, never one exception for all — lost answers resolved order by order,
and a Bybit batch cut short by the per-UID limit failing only its orders past the limit."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .trading import MARKETS, SYMBOL, resting_buy, sim_order, trader, writes

pytestmark = pytest.mark.asyncio

#: The batch request of each market, and how many orders one takes.
BATCH_PATH = {
    ("binance", "spot"): ("POST /api/v3/order", 1),
    ("binance", "usdm"): ("POST /fapi/v1/batchOrders", 5),
    ("bybit", "spot"): ("POST /v5/order/create-batch", 10),
    ("bybit", "linear"): ("POST /v5/order/create-batch", 10),
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


def requests(sim: Simulator, venue: str, market: str) -> dict[str, int]:
    return writes(sim, venue, market)


async def too_much(c: tw.Binance | tw.Bybit, price: Decimal) -> Decimal:
    info = await c.symbol_info(SYMBOL)
    quote = sum(b.free for b in (await c.balances()).values() if b.asset == "USDT")
    qty = (quote * 1000 / price) // info.step_size * info.step_size
    return min(qty, info.max_qty) if info.max_qty is not None else qty


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_batch_places_each_order_and_reports_each_outcome(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        good = [
            tw.LimitOrder(SYMBOL, "BUY", qty, price - k * info.tick_size, client_order_id=f"b-{k}")
            for k in range(6)
        ]
        off_tick = tw.LimitOrder(SYMBOL, "BUY", qty, price + info.tick_size / 2, client_order_id="b-tick")
        broke = tw.LimitOrder(SYMBOL, "BUY", await too_much(c, price), price, client_order_id="b-broke")
        path, per_request = BATCH_PATH[(venue, market)]
        before = requests(sim, venue, market).get(path, 0)
        out = await c.place_batch([*good[:3], off_tick, broke, *good[3:]])
        assert len(out) == 8
        placed = [o for o in out if isinstance(o, tw.Order)]
        assert [o.client_order_id for o in placed] == [f"b-{k}" for k in range(6)], out
        assert all(o.status == tw.OrderStatus.NEW and o.order_id for o in placed)
        assert isinstance(out[3], tw.InvalidOrder) and out[3].rule == "tick_size"
        assert isinstance(out[4], tw.InsufficientFunds), out[4]
        for o in placed:
            truth = sim_order(sim, venue, market, o.client_order_id)
            assert (truth.order_id, truth.price, truth.qty) == (o.order_id, o.price, qty)
        assert not [o for o in sim.orders(venue, market) if o.client_order_id == "b-tick"], "never sent"
        sent = requests(sim, venue, market).get(path, 0) - before
        assert sent == -(-7 // per_request), f"{sent} requests for 7 orders, {per_request} a request"
        # The refused order is known as REJECTED; a repeated client id is refused at once.
        assert (await c.order(SYMBOL, client_order_id="b-0")).status == tw.OrderStatus.NEW
        (again,) = await c.place_batch([good[0]])
        assert isinstance(again, tw.InvalidArgument)

        canceled = await c.cancel_batch(
            SYMBOL, client_order_ids=["b-0", "b-1", "nope", "b-2", "b-3", "b-4", "b-5"]
        )
        assert isinstance(canceled[2], tw.OrderNotFound)
        done = [o for o in canceled if isinstance(o, tw.Order)]
        assert [o.status for o in done] == [tw.OrderStatus.CANCELED] * 6
        assert all(
            sim_order(sim, venue, market, f"b-{k}").status == tw.OrderStatus.CANCELED for k in range(6)
        )
        assert await c.open_orders(SYMBOL) == []


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_cancel_batch_by_venue_ids_and_market_orders_in_a_batch(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        out = await c.place_batch(
            [
                tw.LimitOrder(SYMBOL, "BUY", qty, price),
                tw.MarketOrder(SYMBOL, "BUY", qty),
                tw.LimitOrder(SYMBOL, "BUY", qty, price),
            ]
        )
        orders = [o for o in out if isinstance(o, tw.Order)]
        assert len(orders) == 3, out
        assert orders[1].status == tw.OrderStatus.FILLED or (
            (await c.order(SYMBOL, order_id=orders[1].order_id)).status == tw.OrderStatus.FILLED
        )
        canceled = await c.cancel_batch(
            SYMBOL, order_ids=[orders[0].order_id, orders[2].order_id, orders[1].order_id]
        )
        assert [getattr(o, "status", None) for o in canceled[:2]] == [tw.OrderStatus.CANCELED] * 2
        assert isinstance(canceled[2], tw.OrderNotFound), "a filled order cannot be canceled"
        with pytest.raises(tw.InvalidArgument):
            await c.cancel_batch(SYMBOL, order_ids=["1"], client_order_ids=["a"])
        with pytest.raises(TypeError):
            await c.place_batch([tw.LimitOrder(SYMBOL, "BUY", 0.1, price)])  # type: ignore[arg-type]


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_lost_batch_answer_is_resolved_order_by_order(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-08 for batches: the venue places the orders but the answer never comes; each is
    found by its client id, none is sent twice. Binance spot's batch is concurrent single
    places: over REST each is answered on its own; on the WebSocket session, the lost answer
    takes the connection and the places behind it never reach the venue: they end REJECTED
    (absent at the venue past their receive window), never resent."""
    async with trader(sim, venue, market, timeout=0.5, recv_window_ms=1000) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        path, _ = BATCH_PATH[(venue, market)]
        before = requests(sim, venue, market).get(path, 0)
        sim.native.fail_rest(sim.native_venue(venue), sim.native_market(market), lose_write_answers=1)
        out = await c.place_batch(
            [tw.LimitOrder(SYMBOL, "BUY", qty, price, client_order_id=f"l-{k}") for k in range(3)]
        )
        assert all(isinstance(o, tw.Order) for o in out), out
        for order in out:
            assert isinstance(order, tw.Order)
            at_venue = sum(o.client_order_id == order.client_order_id for o in sim.orders(venue, market))
            assert (order.status, at_venue) in ((tw.OrderStatus.NEW, 1), (tw.OrderStatus.REJECTED, 0)), order
        assert isinstance(out[0], tw.Order) and out[0].status == tw.OrderStatus.NEW
        if (venue, market) != ("binance", "spot"):
            assert [o.status for o in out if isinstance(o, tw.Order)] == [tw.OrderStatus.NEW] * 3
        sent = requests(sim, venue, market).get(path, 0) - before
        assert sent == (sum(o.status == tw.OrderStatus.NEW for o in out if isinstance(o, tw.Order))
                        if (venue, market) == ("binance", "spot") else 1)  # fmt: skip
        await c.cancel_all(SYMBOL)


async def test_a_bybit_batch_past_the_limit_fails_only_its_excess(sim: Simulator) -> None:
    """Bybit counts a batch by its orders; the orders past the per-UID limit fail on their own
    (RateLimited), the others are placed. Two connectors share one account's limit here."""
    async with trader(sim, "bybit", "linear") as a, trader(sim, "bybit", "linear") as b:
        price, qty = await resting_buy(sim, a, "bybit", "linear")
        first = await a.place_batch([tw.LimitOrder(SYMBOL, "BUY", qty, price) for _ in range(6)])
        assert all(isinstance(o, tw.Order) for o in first)
        second = await b.place_batch(
            [tw.LimitOrder(SYMBOL, "BUY", qty, price, client_order_id=f"r-{k}") for k in range(10)]
        )
        placed = [o for o in second if isinstance(o, tw.Order)]
        limited = [o for o in second if isinstance(o, tw.RateLimited)]
        assert len(placed) == 4 and len(limited) == 6, second
        assert [o.client_order_id for o in placed] == [f"r-{k}" for k in range(4)]
        assert not [
            o for o in sim.orders("bybit", "linear") if o.client_order_id in {f"r-{k}" for k in range(4, 10)}
        ]
        await a.cancel_all(SYMBOL)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_an_amend_batch_changes_each_order_and_reports_each_outcome(
    sim: Simulator, venue: str, market: str
) -> None:
    """Binance USD-M `PUT batchOrders` and Bybit `amend-batch` in one request; Binance spot
    amends each on its own (a quantity decrease in place)."""
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        placed = await c.place_batch(
            [
                tw.LimitOrder(SYMBOL, "BUY", qty * 2, price - k * info.tick_size, client_order_id=f"ab-{k}")
                for k in range(3)
            ]
        )
        assert all(isinstance(o, tw.Order) for o in placed)
        path = {
            ("binance", "spot"): "PUT /api/v3/order/amend/keepPriority",
            ("binance", "usdm"): "PUT /fapi/v1/batchOrders",
            ("bybit", "spot"): "POST /v5/order/amend-batch",
            ("bybit", "linear"): "POST /v5/order/amend-batch",
        }[(venue, market)]
        before = requests(sim, venue, market).get(path, 0)
        out = await c.amend_batch(
            SYMBOL,
            [
                tw.Amendment(client_order_id="ab-0", qty=qty),
                tw.Amendment(client_order_id="ab-1", qty=qty * 2),  # no change: refused locally
                tw.Amendment(client_order_id="nope", qty=qty),
                tw.Amendment(client_order_id="ab-2", qty=qty),
            ],
        )
        assert isinstance(out[0], tw.Order) and (out[0].client_order_id, out[0].qty) == ("ab-0", qty)
        assert isinstance(out[1], tw.InvalidOrder) and out[1].rule == "no_change"
        assert isinstance(out[2], tw.OrderNotFound)
        assert isinstance(out[3], tw.Order) and out[3].qty == qty
        assert sim_order(sim, venue, market, "ab-0").qty == qty
        assert sim_order(sim, venue, market, "ab-1").qty == qty * 2
        sent = requests(sim, venue, market).get(path, 0) - before
        assert sent == (2 if (venue, market) == ("binance", "spot") else 1)
        await c.cancel_all(SYMBOL)

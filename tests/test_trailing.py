"""Trailing stops (issue 21, item 2; ROADMAP ORD-01) against the simulator over loopback:
Binance USD-M's algo service (`TRAILING_STOP_MARKET`, `callbackRate` in percent, an optional
`activatePrice`) and Binance spot's `trailingDelta` (BIPS) on a STOP_LOSS, as one call with
the rate in percent. The order waits UNTRIGGERED; once active its trigger follows the best
price since, and it fires when the price comes back the rate from there. Bybit trails a
position instead (test_exits.py). Refusals are typed: rule `trailing` locally, the venue's own
(`trigger_price`, a filter) otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.enums import SideName
from tradewire.testing import Simulator

from .trading import SYMBOL, sim_order, trader

pytestmark = pytest.mark.asyncio

BINANCE = ["usdm", "spot"]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


async def trade_at(
    c: tw.Binance | tw.Bybit, sim: Simulator, market: str, side: SideName, price: Decimal, qty: Decimal
) -> None:
    """Another trader takes our resting order at `price`, the last trade (the simulator's own
    book is a few ticks deep: our order is the liquidity that moves the price there). A BUY
    sweeps every ask below it first; a SELL's price must be above the book's bids."""
    rest: SideName = "SELL" if side == "BUY" else "BUY"
    await c.place_limit(SYMBOL, rest, qty, price)
    sim.take("binance", market, SYMBOL, side, 1000 * qty if side == "BUY" else qty, limit=price)


@pytest.mark.parametrize("market", BINANCE)
async def test_a_trailing_stop_follows_the_best_price_and_fires_on_the_way_back(
    sim: Simulator, market: str
) -> None:
    async with trader(sim, "binance", market) as c:
        info = await c.symbol_info(SYMBOL)
        q = info.step_size * 1000
        _, ask = sim.best("binance", market, SYMBOL)
        # USD-M: active once the price rises to ask + 50 (a SELL's activation is above the
        # latest price); spot: active from placement.
        activation = ask + 50 if market == "usdm" else None
        ts = await c.place_trailing_stop(SYMBOL, "SELL", q, "0.1", activation_price=activation,
                                         client_order_id=f"trail-{market}")  # fmt: skip
        assert (ts.status, ts.callback_rate, ts.trigger_price) == (
            tw.OrderStatus.UNTRIGGERED,
            Decimal("0.1"),
            activation,
        )
        assert (ts.trigger_kind, ts.order_type) == (tw.TriggerKind.STOP, tw.OrderType.MARKET)
        listed = {o.client_order_id: o for o in await c.open_orders(SYMBOL)}
        assert listed[f"trail-{market}"].callback_rate == Decimal("0.1")
        # Up to ask + 100: the best price since is there; it fires 0.1% (~60) below it.
        await trade_at(c, sim, market, "BUY", ask + 100, q)
        assert sim_order(sim, "binance", market, f"trail-{market}").status == tw.OrderStatus.UNTRIGGERED
        # Down 30: not far enough. Then down 70: it fires and sells at market.
        await trade_at(c, sim, market, "SELL", ask + 70, q)
        assert sim_order(sim, "binance", market, f"trail-{market}").status == tw.OrderStatus.UNTRIGGERED
        await trade_at(c, sim, market, "SELL", ask + 30, q)
        truth = sim_order(sim, "binance", market, f"trail-{market}")
        assert (truth.status, truth.filled_qty) == (tw.OrderStatus.FILLED, q)
        done = await c.order(SYMBOL, client_order_id=f"trail-{market}")
        assert (done.status, done.filled_qty, done.callback_rate) == (
            tw.OrderStatus.FILLED,
            q,
            Decimal("0.1"),
        )


async def test_trailing_stops_are_refused_where_they_cannot_be(sim: Simulator) -> None:
    async with (
        trader(sim, "binance", "usdm") as usdm,
        trader(sim, "binance", "spot") as spot,
        trader(sim, "bybit", "linear") as bybit,
    ):
        q = (await usdm.symbol_info(SYMBOL)).step_size * 1000
        before = sim.native.rest_requests(sim.native_venue("binance"), sim.native_market("usdm"))
        cases: list[tuple[tw.Binance | tw.Bybit, str, str]] = [
            (usdm, "0.05", "from 0.1% to 10%"),  # USD-M's bounds
            (usdm, "10.5", "from 0.1% to 10%"),
            (spot, "0.015", "steps of 0.01%"),  # whole BIPS
            (spot, "0", "at least 0.01%"),
            (bybit, "1", "set_position_exits"),  # Bybit trails a position
        ]
        for c, rate, words in cases:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_trailing_stop(SYMBOL, "SELL", q, rate)
            assert refused.value.rule == "trailing" and words in str(refused.value), (rate, refused.value)
        assert sim.native.rest_requests(sim.native_venue("binance"), sim.native_market("usdm")) == before
        # The venue's own: a USD-M SELL's activation under the latest price would trigger at
        # once; a spot delta beyond the symbol's TRAILING_DELTA filter.
        bid, _ = sim.best("binance", "usdm", SYMBOL)
        with pytest.raises(tw.InvalidOrder) as refused:
            await usdm.place_trailing_stop(SYMBOL, "SELL", q, "1", activation_price=bid - 10)
        assert (refused.value.rule, refused.value.code) == ("trigger_price", -2021)
        with pytest.raises(tw.InvalidOrder) as refused:
            await spot.place_trailing_stop(SYMBOL, "SELL", q, "25")
        assert refused.value.code == -1013 and "TRAILING_DELTA" in str(refused.value)

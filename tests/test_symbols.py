"""Unified symbols (issue 22 item 5): every connector takes the canonical name (`BTC/USDT` for
spot, `BTC/USDT:USDT` for a linear perpetual) as well as the venue's own (`BTCUSDT`), in any
case, for market data and orders alike; events carry the venue's symbol and `SymbolInfo`
names the canonical one; `connector.label` is the name merged quotes use, and the aggregator
hands back the connector behind a quote and each venue's own best bid and ask."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import AsyncExitStack

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import take
from .trading import resting_buy, trader

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]


def canonical(market: str) -> str:
    return "BTC/USDT" if market == "spot" else "BTC/USDT:USDT"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=59, steps_per_second=100) as running:
        yield running


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_canonical_names_reach_the_venue_symbol_everywhere(
    sim: Simulator, venue: str, market: str
) -> None:
    name = canonical(market)
    async with trader(sim, venue, market) as c:
        assert c.label == f"{venue}-{market}"
        info = await c.symbol_info(name)
        assert (info.symbol, info.canonical) == ("BTCUSDT", name)
        assert (await c.symbol_info(name.lower())).symbol == "BTCUSDT"
        assert (await c.symbol_info("BTCUSDT")).canonical == name
        # Market data: the venue's symbol on every event.
        async with c.trades(name) as trades:
            got = [t for t in await take(trades, 3) if isinstance(t, tw.Trade)]
        assert got and {t.symbol for t in got} == {"BTCUSDT"}
        with await c.book(name, depth=5) as book:
            assert book.symbol == "BTCUSDT" and book.is_synced
        candles = await c.klines(name, "1m", limit=2)
        assert candles and all(k.symbol == "BTCUSDT" for k in candles)
        assert (await c.depth_snapshot(name, limit=5)).symbol == "BTCUSDT"
        # Orders: placed, queried and cancelled by the canonical name.
        price, qty = await resting_buy(sim, c, venue, market)
        placed = await c.place_limit(name, "BUY", qty, price)
        assert placed.symbol == "BTCUSDT"
        assert (await c.order(name, order_id=placed.order_id)).order_id == placed.order_id
        assert [o.order_id for o in await c.open_orders(name)] == [placed.order_id]
        await c.cancel(name, order_id=placed.order_id)
        assert await c.open_orders(name) == []


@pytest.mark.asyncio
async def test_a_name_of_the_other_instrument_type_is_refused_with_a_hint(sim: Simulator) -> None:
    async with trader(sim, "bybit", "linear") as linear, trader(sim, "binance", "spot") as spot:
        with pytest.raises(tw.InvalidArgument, match=r"BTC/USDT:USDT"):
            await linear.symbol_info("BTC/USDT")
        with pytest.raises(tw.InvalidArgument, match=r"'BTC/USDT'"):
            await spot.symbol_info("BTC/USDT:USDT")
        with pytest.raises(tw.InvalidArgument, match="NOPE/USDT"):
            spot.trades("NOPE/USDT")


@pytest.mark.asyncio
async def test_the_aggregator_names_the_connector_and_each_venues_best() -> None:
    markets = [("binance", "spot"), ("bybit", "spot")]
    with Simulator(seed=61, steps_per_second=100, time_scale=10) as sim:
        async with AsyncExitStack() as stack:
            connectors: list[tw.Binance | tw.Bybit] = [
                await stack.enter_async_context(trader(sim, v, m)) for v, m in markets
            ]
            agg = tw.Aggregator(connectors, stale_after=None)
            await agg.book("BTC/USDT")
            for v, m in markets:
                sim.native.pause(tw.Venue(v), tw.Market(m), True)
            await asyncio.sleep(1.0)
            best = await agg.venue_bbo("BTC/USDT")
            for connector, (v, m) in zip(connectors, markets, strict=True):
                bid, ask = best[connector.label]
                true_bid, true_ask = sim.best(v, m, "BTCUSDT")
                assert bid is not None and ask is not None
                assert (bid.price, ask.price) == (true_bid, true_ask)
            quote = agg.best_bid("BTC/USDT")
            assert (
                quote is not None
                and agg.connector(quote) is connectors[[c.label for c in connectors].index(quote.venue)]
            )
            assert agg.connector("bybit-spot") is connectors[1]
            with pytest.raises(tw.InvalidArgument, match="binance-usdm"):
                agg.connector("binance-usdm")

"""Aggregated trades, the best bid/offer stream and REST depth snapshots (issue 22 item 3,
MKTD) over real sockets: typed events on every market that has them, a clear error where a
venue has none, Bybit's best bid/offer kept by the book's own sequence checks (a gap shows as
no levels, then the top again), and snapshots equal to the venue's true book."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, take, until

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]
#: The deepest REST book each market serves.
DEEPEST = {
    ("binance", "spot"): 5000,
    ("binance", "usdm"): 1000,
    ("bybit", "spot"): 1000,
    ("bybit", "linear"): 1000,
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=47, steps_per_second=200) as running:
        yield running


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_binance_aggregated_trades_are_typed_and_in_order(sim: Simulator, market: str) -> None:
    async with connect(sim, "binance", market) as c, c.agg_trades("BTCUSDT", "ETHUSDT") as stream:
        got = [t for t in await take(stream, 20) if isinstance(t, tw.AggTrade)]
    assert {t.symbol for t in got} <= {"BTCUSDT", "ETHUSDT"} and got
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ids = [t.agg_id for t in got if t.symbol == symbol]
        assert ids == sorted(set(ids)), "each aggregate once, in order"
    for t in got:
        assert (t.venue.value, t.market.value) == ("binance", market)
        assert t.price > 0 and t.qty > 0 and t.side in (tw.Side.BUY, tw.Side.SELL)
        assert t.first_trade_id is not None and t.last_trade_id is not None
        assert t.first_trade_id <= t.last_trade_id
        assert t.exchange_time_ms > 0 and t.local_time_ns > 0


@pytest.mark.asyncio
async def test_bybit_has_no_aggregated_trades(sim: Simulator) -> None:
    async with connect(sim, "bybit", "linear") as c:
        with pytest.raises(tw.InvalidArgument, match=r"use trades\(\)"):
            c.agg_trades("BTCUSDT")
        with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
            c.bbo("NOPEUSDT")


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_the_best_bid_and_offer_follows_the_true_book(sim: Simulator, venue: str, market: str) -> None:
    async with connect(sim, venue, market) as c, c.bbo("BTCUSDT") as stream:
        tops = [t for t in await take(stream, 10) if isinstance(t, tw.TopOfBook)]
        assert tops
        for t in tops:
            assert t.bid is not None and t.ask is not None and t.bid.price < t.ask.price
            assert t.bid.qty > 0 and t.ask.qty > 0 and t.update_id is not None
            assert (t.venue.value, t.market.value, t.symbol) == (venue, market, "BTCUSDT")
        ids = [t.update_id for t in tops]
        assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(ids))
        # Paused, the venue's top stops moving: the stream's latest top is the true one.
        sim.native.pause(tw.Venue(venue), tw.Market(market), True)
        try:
            bid, ask = sim.best(venue, market, "BTCUSDT")
            latest = tops[-1]

            async def caught_up() -> bool:
                nonlocal latest
                while True:
                    item = await stream.recv()
                    if isinstance(item, tw.TopOfBook):
                        latest = item
                    if latest.bid and latest.ask and (latest.bid.price, latest.ask.price) == (bid, ask):
                        return True

            if not (latest.bid and latest.ask and (latest.bid.price, latest.ask.price) == (bid, ask)):
                await asyncio.wait_for(caught_up(), 10)
        finally:
            sim.native.pause(tw.Venue(venue), tw.Market(market), False)


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_a_bybit_top_out_of_sync_shows_no_levels_then_recovers(sim: Simulator, market: str) -> None:
    async with connect(sim, "bybit", market) as c, c.bbo("BTCUSDT") as stream:
        seen: list[tw.TopOfBook] = []

        async def read() -> None:
            async for t in stream:
                if isinstance(t, tw.TopOfBook):
                    seen.append(t)

        reader = asyncio.create_task(read())
        try:
            await until(lambda: len(seen) >= 3, 10, "tops")
            before = len(seen)
            # The venue's orderbook.1 is snapshots only: a lost connection is what unsyncs it.
            sim.native.drop_connections(tw.Venue.BYBIT, tw.Market(market))
            await until(lambda: any(t.bid is None for t in seen[before:]), 15, "the loss of sync")
            lost = next(t for t in seen[before:] if t.bid is None)
            assert lost.ask is None and lost.update_id is None
            after = seen.index(lost)
            await until(lambda: any(t.bid is not None for t in seen[after:]), 15, "the top again")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_depth_snapshot_is_the_venues_book(sim: Simulator, venue: str, market: str) -> None:
    async with connect(sim, venue, market) as c:
        sim.native.pause(tw.Venue(venue), tw.Market(market), True)
        try:
            await asyncio.sleep(0.3)
            view = await c.depth_snapshot("BTCUSDT", limit=30)
            update_id, bids, asks = sim.book(venue, market, "BTCUSDT", 30)
        finally:
            sim.native.pause(tw.Venue(venue), tw.Market(market), False)
        assert view.is_synced and view.update_id == update_id
        assert (view.bids, view.asks) == (bids, asks)
        assert len(view.bids) == 30 and view.local_time_ns > 0
        assert (view.venue.value, view.market.value, view.symbol) == (venue, market, "BTCUSDT")
        with pytest.raises(tw.InvalidArgument, match="limit"):
            await c.depth_snapshot("BTCUSDT", limit=DEEPEST[(venue, market)] + 1)
        with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
            await c.depth_snapshot("NOPEUSDT")
    if (venue, market) == ("binance", "usdm"):
        # 30 is no USD-M depth: asked at 50, cut to 30.
        assert sim.native.rest_requests(tw.Venue.BINANCE, tw.Market.USDM).get("GET /fapi/v1/depth", 0) >= 1

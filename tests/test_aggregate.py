"""Cross-venue books (CRSX-01..03) over real sockets against the simulator: the merged book is
the union of the venue books, best bid/ask across venues name their venue, crossed markets and
venues leaving (out of sync, stale, closed) are reported, and bad names are refused."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until
from .trading import trader

SPOT = [("binance", "spot"), ("bybit", "spot")]
# Binance spot (tick 0.01) with Bybit linear (tick 0.1): different grids, merged by a mapping.
MIXED = [("binance", "spot"), ("bybit", "linear")]
MIXED_MAPPING = {"BTC/USDT": {"binance-spot": "BTCUSDT", "bybit-linear": "BTCUSDT"}}


def label(venue: str, market: str) -> str:
    return f"{venue}-{market}"


Side = dict[Decimal, dict[str, Decimal]]


def truth_union(sim: Simulator, markets: list[tuple[str, str]]) -> tuple[Side, Side]:
    """The simulator's own books merged: {price: {label: qty}} for bids and for asks."""
    bids: Side = {}
    asks: Side = {}
    for venue, market in markets:
        _, b, a = sim.book(venue, market, "BTCUSDT", 1000)
        for side, levels in ((bids, b), (asks, a)):
            for level in levels:
                side.setdefault(level.price.normalize(), {})[label(venue, market)] = level.qty.normalize()
    return bids, asks


def merged_sides(view: tw.MergedView) -> tuple[Side, Side]:
    out: list[Side] = []
    for levels in (view.bids, view.asks):
        side: Side = {}
        for level in levels:
            assert level.qty == sum(level.venues.values()), level
            side[level.price.normalize()] = {k: v.normalize() for k, v in level.venues.items()}
        out.append(side)
    return out[0], out[1]


async def connected(
    stack: AsyncExitStack, sim: Simulator, markets: list[tuple[str, str]]
) -> list[tw.Binance | tw.Bybit]:
    return [await stack.enter_async_context(trader(sim, v, m)) for v, m in markets]


async def paused_equal(
    sim: Simulator, book: tw.MergedBook, markets: list[tuple[str, str]], resume: bool = True
) -> None:
    """Pauses the markets and waits until the merged book is the union of the true books;
    resumes them after, unless told not to."""
    for venue, market in markets:
        sim.native.pause(sim.native_venue(venue), sim.native_market(market), True)
    truth = truth_union(sim, markets)
    last: list[object] = []

    def same() -> bool:
        view = book.snapshot()
        last[:] = [view]
        return len(view.included) == len(markets) and merged_sides(view) == truth

    try:
        await until(same, 15.0, f"the merged book to equal the venues' books (last: {last})")
    finally:
        for venue, market in markets if resume else []:
            sim.native.pause(sim.native_venue(venue), sim.native_market(market), False)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("markets", "mapping", "legacy"),
    [(SPOT, None, 0), (MIXED, MIXED_MAPPING, 0), (SPOT, None, 4), (MIXED, MIXED_MAPPING, 4)],
    ids=["spot", "mixed", "spot-legacy", "mixed-legacy"],
)
async def test_the_merged_book_is_the_union_of_the_venue_books_at_every_checkpoint(
    markets: list[tuple[str, str]], mapping: dict[str, dict[str, str]] | None, legacy: int
) -> None:
    """CRSX-01: a randomized run — the market moves, books lose sync (skipped, repeated and
    reordered diffs, dropped connections) and resync — checked at every pause point; with
    ``legacy`` levels a side off each venue's tick and step, as real books hold."""
    rng = random.Random(8)
    with Simulator(seed=41, steps_per_second=100, time_scale=10, legacy_levels=legacy) as sim:
        async with AsyncExitStack() as stack:
            connectors = await connected(stack, sim, markets)
            agg = tw.Aggregator(connectors, mapping=mapping, stale_after=None)  # paused = quiet
            book = await agg.book("BTC/USDT")
            assert book.snapshot().symbols == {label(v, m): "BTCUSDT" for v, m in markets}
            for _ in range(8):
                venue, market = rng.choice(markets)
                v, m = sim.native_venue(venue), sim.native_market(market)
                fault = rng.choice(["none", "skip", "duplicate", "reorder", "drop"])
                if fault == "drop":
                    sim.native.drop_connections(v, m)
                elif fault != "none":
                    sim.native.corrupt_depth(v, m, **{fault: 1})  # type: ignore[arg-type]
                await asyncio.sleep(rng.uniform(0.1, 0.6))
                await paused_equal(sim, book, markets)


@pytest.mark.asyncio
async def test_best_bid_and_ask_across_venues_name_the_venue() -> None:
    """CRSX-02, CRSX-03: one call each; price, total quantity there, and the venue."""
    with Simulator(seed=42, steps_per_second=100, time_scale=10) as sim:
        async with AsyncExitStack() as stack:
            agg = tw.Aggregator(await connected(stack, sim, SPOT), stale_after=None)
            book = await agg.book("BTC/USDT")
            await paused_equal(sim, book, SPOT, resume=False)
            bids, asks = truth_union(sim, SPOT)
            best_bid, best_ask = agg.best_bid("BTC/USDT"), agg.best_ask("BTC/USDT")
            assert best_bid is not None and best_ask is not None
            for quote, side, price in ((best_bid, bids, max(bids)), (best_ask, asks, min(asks))):
                assert quote.price == price
                assert quote.venues == side[price]
                assert quote.qty == sum(side[price].values())
                assert quote.venue == max(side[price], key=lambda k: side[price][k])
            assert agg.bbo("BTC/USDT").bid == best_bid == book.best_bid()


async def cross(sim: Simulator, connectors: dict[str, tw.Binance | tw.Bybit]) -> tuple[str, str, tw.Order]:
    """Places a BUY on the venue with the higher best ask, at the other venue's best ask: it
    rests on its own venue (below its ask) and crosses the other. Markets are paused."""
    for _ in range(50):
        tops = {name: sim.best(*map_native(sim, name), "BTCUSDT") for name in connectors}
        (high, (_, high_ask)), (low, (_, low_ask)) = sorted(tops.items(), key=lambda t: -t[1][1])
        if high_ask > low_ask:
            order = await connectors[high].place_limit("BTCUSDT", "BUY", "0.001", low_ask)
            return high, low, order
        for name in connectors:  # equal asks: let the markets move a little
            sim.native.pause(*map_native(sim, name), False)
        await asyncio.sleep(0.05)
        for name in connectors:
            sim.native.pause(*map_native(sim, name), True)
    raise AssertionError("the venues' asks never differed")


def map_native(sim: Simulator, name: str) -> tuple[tw.Venue, tw.Market]:
    venue, market = name.split("-")
    return sim.native_venue(venue), sim.native_market(market)


async def kinds(events: AsyncIterator[tw.AggregatorEvent | tw.Gap], kind: str) -> tw.AggregatorEvent:
    async with asyncio.timeout(10):
        async for event in events:
            if isinstance(event, tw.AggregatorEvent) and event.kind == kind:
                return event
    raise AssertionError(f"no {kind} event")


@pytest.mark.asyncio
async def test_a_cross_between_venues_is_an_event_and_in_the_bbo() -> None:
    with Simulator(seed=43, steps_per_second=100, time_scale=10) as sim:
        async with AsyncExitStack() as stack:
            connectors = await connected(stack, sim, SPOT)
            agg = tw.Aggregator(connectors, stale_after=None)  # paused markets go quiet
            await agg.book("BTC/USDT")
            events = agg.events()
            for venue, market in SPOT:
                sim.native.pause(sim.native_venue(venue), sim.native_market(market), True)
            by_label = {label(v, m): c for (v, m), c in zip(SPOT, connectors, strict=True)}
            try:
                bid_venue, ask_venue, order = await cross(sim, by_label)
                crossed = await kinds(events, "crossed")
                assert crossed.symbol == "BTC/USDT"
                assert crossed.fields["bid_venue"] == bid_venue
                assert crossed.fields["ask_venue"] == ask_venue
                assert Decimal(crossed.fields["bid"]) >= Decimal(crossed.fields["ask"])
                bbo = agg.bbo("BTC/USDT")
                assert bbo.crossed and bbo.bid is not None and bbo.bid.venue == bid_venue
                await by_label[bid_venue].cancel("BTCUSDT", client_order_id=order.client_order_id)
                await kinds(events, "uncrossed")
                assert not agg.bbo("BTC/USDT").crossed
            finally:
                for venue, market in SPOT:
                    sim.native.pause(sim.native_venue(venue), sim.native_market(market), False)


@pytest.mark.asyncio
async def test_a_stale_or_unsynced_venue_is_left_out_and_comes_back() -> None:
    with Simulator(seed=44, steps_per_second=100, time_scale=10) as sim:
        async with AsyncExitStack() as stack:
            connectors = await connected(stack, sim, SPOT)
            agg = tw.Aggregator(connectors, stale_after=0.5)
            book = await agg.book("BTC/USDT")
            events = agg.events()
            updates = agg.bbo_updates("BTC/USDT")
            by, v, m = "bybit-spot", sim.native_venue("bybit"), sim.native_market("spot")
            # A skipped delta drops the venue until its resync (first: a frozen session the client
            # gave up on could take the fault later).
            sim.native.corrupt_depth(v, m, skip=1)
            event = await kinds(events, "excluded")
            assert event.fields["reason"].startswith("not in sync")
            await kinds(events, "included")
            # A frozen connection: nothing arrives, nothing says why. Stale after 0.5 s.
            sim.native.freeze(v, m, True)
            event = await kinds(events, "excluded")
            assert event.fields["venue"] == by and event.fields["reason"].startswith("stale")
            view = book.snapshot()
            assert view.included == ["binance-spot"] and view.excluded[by].startswith("stale")
            assert all(set(level.venues) == {"binance-spot"} for level in view.bids + view.asks)
            async with asyncio.timeout(5):
                async for bbo in updates:
                    if by in bbo.excluded:
                        break
            sim.native.freeze(v, m, False)
            event = await kinds(events, "included")
            assert event.fields["venue"] == by
            # A closed connector's book is out of sync for good.
            await connectors[1].close()
            event = await kinds(events, "excluded")
            assert event.fields["venue"] == by
            assert book.snapshot().included == ["binance-spot"]
            bbo = agg.bbo("BTC/USDT")
            assert bbo.bid is not None and bbo.bid.venues.keys() == {"binance-spot"}


@pytest.mark.asyncio
async def test_bad_names_and_arguments_are_refused() -> None:
    with Simulator(seed=45, steps_per_second=20) as sim:
        async with AsyncExitStack() as stack:
            spot = await connected(stack, sim, SPOT)
            agg = tw.Aggregator(spot)
            with pytest.raises(tw.InvalidArgument, match="listed on none"):
                await agg.book("BTC/EUR")
            with pytest.raises(tw.InvalidArgument, match="listed on none"):
                await agg.book("BTC/USDT:USDT")  # spot connectors list no perpetual
            with pytest.raises(tw.InvalidArgument, match="not followed"):
                agg.best_bid("BTC/USDT")
            with pytest.raises(tw.InvalidArgument, match="given twice"):
                tw.Aggregator([spot[0], spot[0]])
            with pytest.raises(tw.InvalidArgument, match="no connector is bybit-linear"):
                tw.Aggregator(spot, mapping={"BTC/USDT": {"bybit-linear": "BTCUSDT"}})
            with pytest.raises(tw.InvalidArgument, match="not listed"):
                await tw.Aggregator(spot, mapping={"X": {"bybit-spot": "NOPEUSDT"}}).book("X")
            with pytest.raises(ValueError, match="stale_after"):
                tw.Aggregator(spot, stale_after=0)
            # Perpetuals merge by their canonical name with the settle asset.
            perps = await connected(stack, sim, [("binance", "usdm"), ("bybit", "linear")])
            book = await tw.Aggregator(perps).book("BTC/USDT:USDT")
            assert set(book.snapshot().included) == {"binance-usdm", "bybit-linear"}
            assert book.tick == Decimal("0.1")


@pytest.mark.asyncio
async def test_instruments_open_concurrently_and_once() -> None:
    with Simulator(seed=46, steps_per_second=50) as sim:
        async with AsyncExitStack() as stack:
            agg = tw.Aggregator(await connected(stack, sim, SPOT))
            btc, eth, btc_again = await asyncio.gather(
                agg.book("BTC/USDT"), agg.book("ETH/USDT"), agg.book("BTC/USDT")
            )
            assert (btc.symbol, eth.symbol, btc_again.symbol) == ("BTC/USDT", "ETH/USDT", "BTC/USDT")
            assert btc.snapshot().symbols == {"binance-spot": "BTCUSDT", "bybit-spot": "BTCUSDT"}
            assert eth.snapshot().symbols == {"binance-spot": "ETHUSDT", "bybit-spot": "ETHUSDT"}
            ask = agg.best_ask("ETH/USDT")
            assert ask is not None and ask.price > 1000


@pytest.mark.asyncio
async def test_closing_releases_the_venue_books() -> None:
    with Simulator(seed=47, steps_per_second=100, time_scale=10) as sim:
        async with AsyncExitStack() as stack:
            connectors = await connected(stack, sim, SPOT)
            async with tw.Aggregator(connectors) as agg:
                book = await agg.book("BTC/USDT")
                eth = await agg.book("ETH/USDT")
                with eth:
                    assert eth.snapshot().included == ["binance-spot", "bybit-spot"]
                assert eth.is_closed and eth.snapshot().included == []
                assert eth.snapshot().excluded["bybit-spot"] == "not in sync: the merged book was closed"

                def subscribed(topic: str) -> bool:
                    return any(topic in name for c in connectors for name, _ in c.health().subscriptions)

                await until(lambda: not subscribed("ethusdt@depth"), 10, "ETH's Binance book released")
                assert subscribed("btcusdt@depth")
            assert book.is_closed and not book.bids(1)
            with pytest.raises(tw.InvalidArgument, match="not followed"):
                agg.best_bid("BTC/USDT")
            await until(lambda: not subscribed("btcusdt@depth"), 10, "BTC's Binance book released")

"""Market data against the simulator over real sockets (MKTD-01..06): typed tickers on the four
markets, live books that equal the venue's true book, and books that notice every fault the
venue's stream can have — skipped, repeated and reordered diffs, a venue restart (Bybit u=1),
a connection lost while a snapshot is fetched — and resync that symbol only, through the rate
limiter, even 200 of them at once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import Events, connect, equals_truth, take, until

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=31, steps_per_second=100, time_scale=10) as running:
        yield running


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_tickers_are_typed_full_and_end_with_the_loop(sim: Simulator, venue: str, market: str) -> None:
    async with connect(sim, venue, market) as c:
        async with c.tickers("BTCUSDT", "ETHUSDT") as stream:
            tickers = [t for t in await take(stream, 6) if isinstance(t, tw.Ticker)]
            assert any("icker" in s for s, _ in c.health().subscriptions)
        assert {t.symbol for t in tickers} == {"BTCUSDT", "ETHUSDT"}
        for t in tickers:
            assert (t.venue.value, t.market.value) == (venue, market)
            assert t.last > 0 and t.volume_24h >= 0
            assert t.exchange_time_ms > 0 and t.local_time_ns > 0
            if venue == "bybit" and market == "linear":
                # Bybit's deltas name only what changed: ours are always whole.
                assert t.bid is not None and t.ask is not None and t.bid <= t.ask
        # Closed: the next message of those topics ends the subscription.
        await until(lambda: not any("icker" in s for s, _ in c.health().subscriptions), 10, "unsubscribed")
        with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
            c.tickers("NOPEUSDT")


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "linear"])
async def test_a_bybit_book_deep_enough_serves_shallower_readers(sim: Simulator, market: str) -> None:
    """One subscription per symbol where one suffices: an `orderbook.200` book already kept
    serves a 10-level view stream and a 50-level handle, which would need `orderbook.50`."""
    async with connect(sim, "bybit", market) as c:
        with await c.book("BTCUSDT", depth=200) as deep:
            async with c.book_updates("BTCUSDT", depth=10) as views:
                with await c.book("BTCUSDT", depth=50) as shallow:
                    view = next(v for v in await take(views, 3) if isinstance(v, tw.BookView))
                    assert len(view.bids) == 10 and shallow.depth == 50
                    assert deep.is_synced and shallow.is_synced and 0 < len(shallow.bids()) <= 50
                    topics = [t for t, _ in c.health().subscriptions if t.startswith("orderbook.")]
                    assert topics == ["orderbook.200.BTCUSDT"]
                    assert len(c.health().books) == 1


@pytest.mark.parametrize("venue", ["binance", "bybit"])
def test_a_view_stream_left_open_outlives_its_connector_and_the_loop_ends(venue: str) -> None:
    """A view stream left open by a `break` with views waiting, its books closed and its
    connector gone: `asyncio.run` ends (closing the stream at exit once dropped the last
    reference to a book under the stream's own lock, and the book's drop took it again)."""
    code = f"""
        import asyncio
        import tradewire as tw
        from tradewire.testing import Simulator

        async def main():
            with Simulator(seed=5, steps_per_second=20_000, time_scale=20, extra_symbols=20) as sim:
                markets = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]
                for v, m in markets:
                    if (v, m) != ("{venue}", "spot"):  # only the market under test moves
                        sim.native.pause(sim.native_venue(v), sim.native_market(m), True)
                endpoints = sim.endpoints("{venue}", "spot")
                c = tw.Binance("spot", endpoints=endpoints) if "{venue}" == "binance" else tw.Bybit(
                    "spot", endpoints=endpoints)
                symbols = [f"S{{k}}USDT" for k in range(20)]
                async with c:
                    books = [await c.book(s, depth=50) for s in symbols]
                    views = c.book_updates(*symbols, depth=10)
                    taken = 0
                    async for view in views:
                        taken += 1
                        if taken == 5000:  # (a busy market: views wait in the stream)
                            break
                    for b in books:
                        b.close()
            print("left", taken)

        asyncio.run(main())
        print("ended")
        """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=45, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[-2] == "ended"


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_live_book_is_the_venues_book(sim: Simulator, venue: str, market: str) -> None:
    async with connect(sim, venue, market) as c:
        with await c.book("BTCUSDT", depth=20) as book:
            assert book.is_synced and book.depth == 20
            assert (book.venue.value, book.market.value, book.symbol) == (venue, market, "BTCUSDT")
            await equals_truth(sim, book, venue, market)
            bid, ask = book.best_bid(), book.best_ask()
            assert bid is not None and ask is not None and bid.price < ask.price
            assert len(book.bids()) == 20 and len(book.asks(5)) == 5
            mid, spread = book.mid, book.spread
            assert mid is not None and spread is not None and bid.price < mid < ask.price
            assert book.exchange_time_ms > 0 and book.update_id is not None
            info = await c.symbol_info("BTCUSDT")
            for level in book.bids() + book.asks():
                assert level.price % info.tick_size == 0 and level.qty % info.step_size == 0
            health = c.health().books
            assert [(b.symbol, b.is_synced, b.resyncs) for b in health] == [("BTCUSDT", True, 0)]
        # Closed: the handle shows nothing rather than a book nobody keeps.
        assert not book.is_synced and book.best_bid() is None and book.bids() == []
        assert book.mid is None and book.update_id is None


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_skipped_repeated_and_reordered_diffs_resync_that_symbol_only(
    sim: Simulator, venue: str, market: str
) -> None:
    v, m = sim.native_venue(venue), sim.native_market(market)
    async with connect(sim, venue, market) as c:
        events = Events(c)
        btc = await c.book("BTCUSDT", depth=20)
        eth = await c.book("ETHUSDT", depth=20)
        ignored_before = btc.stats()[1]
        sim.native.corrupt_depth(v, m, duplicate=3, symbol="BTCUSDT")
        await until(lambda: btc.stats()[1] >= ignored_before + 3, 10, "3 repeats dropped")
        assert btc.stats()[2] == 0, "a repeated diff is dropped, not a reason to resync"
        for fault, expected in (("skip", 1), ("reorder", 2)):
            sim.native.corrupt_depth(v, m, symbol="BTCUSDT", **{fault: 1})
            await events.wait_for("book_unsynced", "BTCUSDT", expected)
            await events.wait_for("book_synced", "BTCUSDT", expected + 1)
            await equals_truth(sim, btc, venue, market)
        reasons = [e.fields["reason"] for e in events.of("book_unsynced", "BTCUSDT")]
        assert all("gap" in r for r in reasons), reasons
        assert btc.stats()[2] == 2
        assert eth.stats()[2] == 0 and events.of("book_unsynced", "ETHUSDT") == []
        await equals_truth(sim, eth, venue, market)
        events.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_book_whose_stream_goes_quiet_is_flagged_stale_and_fresh_again(
    sim: Simulator, venue: str, market: str
) -> None:
    """A book in sync whose stream delivers nothing for ``book_stale_after`` (the connection
    alive) says so: ``is_stale``, ``health().books[..].stale`` and one ``book_stale`` event; it
    stays in sync, and the next update clears the flag with a ``book_fresh`` event."""
    v, m = sim.native_venue(venue), sim.native_market(market)
    async with connect(sim, venue, market, book_stale_after=0.5) as c:
        events = Events(c)
        book = await c.book("BTCUSDT", depth=20)
        assert not book.is_stale and not c.health().books[0].stale
        sim.native.pause(v, m, True)
        try:
            await events.wait_for("book_stale", "BTCUSDT")
            assert book.is_stale and book.is_synced, "stale is a flag, not a loss of sync"
            (health,) = c.health().books
            assert health.stale and health.is_synced and health.age is not None and health.age >= 0.5
            (stale,) = events.of("book_stale", "BTCUSDT")
            assert float(stale.fields["idle"]) >= 0.5
            await asyncio.sleep(1.5)  # several nudges later: told once
            assert len(events.of("book_stale", "BTCUSDT")) == 1
            assert events.of("book_fresh", "BTCUSDT") == []
        finally:
            sim.native.pause(v, m, False)
        await events.wait_for("book_fresh", "BTCUSDT")
        assert not book.is_stale and not c.health().books[0].stale
        assert events.of("book_unsynced", "BTCUSDT") == []
        events.close()


@pytest.mark.asyncio
async def test_bybit_restart_u1_starts_the_book_over() -> None:
    with Simulator(seed=32, steps_per_second=100, time_scale=10) as sim:
        async with connect(sim, "bybit", "linear") as c:
            book = await c.book("BTCUSDT", depth=50)
            await until(lambda: (book.update_id or 0) > 5, 10, "a few updates")
            before = book.update_id
            assert before is not None
            sim.native.restart(sim.native_venue("bybit"))
            await until(lambda: (book.update_id or before) < before, 10, "the book started over")
            await equals_truth(sim, book, "bybit", "linear", n=50)
            assert book.stats()[2] == 0, "a restart is a new snapshot, not a gap"


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_connection_lost_while_the_snapshot_is_fetched(market: str) -> None:
    with Simulator(seed=33, steps_per_second=100, time_scale=10) as sim:
        v, m = sim.native_venue("binance"), sim.native_market(market)
        async with connect(sim, "binance", market) as c:
            events = Events(c)
            # Snapshots hang: the book buffers diffs and waits on its snapshot request.
            sim.native.fail_rest(v, m, hang=1)
            pending = asyncio.create_task(c.book("BTCUSDT", depth=20))
            await until(
                lambda: any(s == "btcusdt@depth@100ms" for s, age in c.health().subscriptions if age),
                10,
                "diffs flowing",
            )
            sim.native.drop_connections(v, m)
            await until(
                lambda: any(conn.reconnects >= 1 for conn in c.health().connections), 10, "a reconnect"
            )
            book = await pending
            await equals_truth(sim, book, "binance", market)
            assert any(conn.reconnects >= 1 for conn in c.health().connections)
            events.close()

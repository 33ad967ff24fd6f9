"""Every change of a book, none conflated (`book_diffs`, issue 20 item 2): a reader that applies
each diff to its own book holds the venue's book at every update id; a resync reaches it as a
reset; a stream nobody reads any more releases the book."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, until

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=37, steps_per_second=100, time_scale=10) as running:
        yield running


class Replica:
    """A reader's own book, kept from nothing but the diffs."""

    def __init__(self, stream: tw.Stream[tw.BookDiff]) -> None:
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.diffs: list[tw.BookDiff] = []
        self.update_id: int | None = None
        self.synced = False
        self._task = asyncio.create_task(self._follow(stream))

    async def _follow(self, stream: tw.Stream[tw.BookDiff]) -> None:
        async for diff in stream:
            self.diffs.append(diff)
            if diff.is_reset:
                self.bids.clear()
                self.asks.clear()
            for side, levels in ((self.bids, diff.bids), (self.asks, diff.asks)):
                for level in levels:
                    if level.qty == 0:
                        side.pop(level.price, None)
                    else:
                        side[level.price] = level.qty
            self.synced, self.update_id = diff.is_synced, diff.update_id

    def top(self, n: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids = sorted(self.bids.items(), reverse=True)[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks

    def stop(self) -> None:
        self._task.cancel()


async def equals_truth(sim: Simulator, replica: Replica, venue: str, market: str, n: int = 20) -> None:
    """With the market paused, the replica settles on the true book (Binance: at its update id)."""
    v, m = sim.native_venue(venue), sim.native_market(market)
    sim.native.pause(v, m, True)
    try:

        def same() -> bool:
            update_id, bids, asks = sim.native.book(v, m, "BTCUSDT", n)
            truth = ([(x.price, x.qty) for x in bids], [(x.price, x.qty) for x in asks])
            same_id = venue == "bybit" or replica.update_id == update_id
            return replica.synced and same_id and replica.top(n) == truth

        await until(
            same,
            10,
            lambda: (
                f"replica {replica.update_id} {replica.top(3)} != truth {sim.native.book(v, m, 'BTCUSDT', 3)}"
            ),
        )
    finally:
        sim.native.pause(v, m, False)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_every_diff_applied_by_the_reader_is_the_venues_book(
    sim: Simulator, venue: str, market: str
) -> None:
    v, m = sim.native_venue(venue), sim.native_market(market)
    async with connect(sim, venue, market) as c:
        replica = Replica(c.book_diffs("BTCUSDT"))
        await until(lambda: len(replica.diffs) >= 50, 10, "50 diffs")
        first = next(d for d in replica.diffs if d.is_synced)
        assert first.is_reset and first.bids and first.asks, "the whole book first"
        assert (first.venue.value, first.market.value, first.symbol) == (venue, market, "BTCUSDT")
        ids = [d.update_id for d in replica.diffs if d.is_synced]
        assert all(a is not None and b is not None and a <= b for a, b in itertools.pairwise(ids))
        # A book opened now is not in sync yet: a reset without levels, then the book.
        assert sum(1 for d in replica.diffs if d.is_reset and d.is_synced) == 1, "no resync"
        await equals_truth(sim, replica, venue, market)

        # A gap: the reader is told (a diff out of sync, no levels), then gets the book again.
        before = len(replica.diffs)
        resets = sum(1 for d in replica.diffs if d.is_reset)
        sim.native.corrupt_depth(v, m, skip=1, symbol="BTCUSDT")
        await until(lambda: any(not d.is_synced for d in replica.diffs[before:]), 10, "the loss of sync")
        lost = next(d for d in replica.diffs[before:] if not d.is_synced)
        assert lost.is_reset and lost.bids == [] and lost.asks == [] and lost.update_id is None
        await until(lambda: replica.synced, 10, "in sync again")
        assert sum(1 for d in replica.diffs if d.is_reset) >= resets + 2
        await equals_truth(sim, replica, venue, market)
        replica.stop()


async def test_a_diff_stream_holds_its_book_while_it_is_read(sim: Simulator) -> None:
    """The stream alone keeps the book subscribed; closing it releases the book; a symbol the
    venue does not list is refused at once; a reader too slow gets `SlowConsumer`, loud."""
    async with connect(sim, "binance", "spot") as c:
        with pytest.raises(tw.InvalidArgument):
            c.book_diffs("NOPEUSDT")
        stream = c.book_diffs("BTCUSDT", depth=100)
        first = await asyncio.wait_for(stream.recv(), 10)
        assert isinstance(first, tw.BookDiff) and first.is_reset
        await until(lambda: [b.symbol for b in c.health().books] == ["BTCUSDT"], 10, "the book kept")
        await stream.aclose()
        await until(lambda: not c.health().books, 10, "the book released")

        # A reader that falls `capacity` diffs behind is told, loud: never a silent hole.
        slow = c.book_diffs("BTCUSDT", capacity=4)
        await asyncio.sleep(1)  # not reading, while the market moves 100 steps a second

        async def read_five() -> None:
            for _ in range(5):
                await asyncio.wait_for(slow.recv(), 5)

        with pytest.raises(tw.SlowConsumer):
            await read_five()

"""Books at scale and over time (MKTD-04..06): 200 books on one connector losing sync at once
resync through the rate limiter with zero venue violations, and a fixed-seed faulty run whose
books equal the venue's true book at every checkpoint. Kept apart from the other market-data
tests so no other simulator shares the machine's two cores with them."""

from __future__ import annotations

import asyncio
import random

import pytest
from tradewire.testing import Simulator

from .books import connect, equals_truth, until


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("bybit", "linear")])
async def test_200_books_resync_at_once_without_a_rate_limit_violation(venue: str, market: str) -> None:
    """200 books lose sync at once — Binance: each skips a diff (each then needs a snapshot of
    weight 50, 10,000 in all against 6000 a window); both: the connection carrying them all is
    lost — and all resync with zero venue violations. A calm market keeps the simulator's own
    work small; Binance runs on 2 s weight windows to keep the test short."""
    with Simulator(
        seed=34, steps_per_second=10, time_scale=30 if venue == "binance" else 10, extra_symbols=200
    ) as sim:
        v, m = sim.native_venue(venue), sim.native_market(market)
        async with connect(sim, venue, market) as c:
            symbols = [f"S{k}USDT" for k in range(200)]
            books = await asyncio.gather(*(c.book(s, depth=10, sync_timeout=40) for s in symbols))
            await until(lambda: all(b.is_synced for b in books), 20, "all 200 books in sync")
            if venue == "binance":
                before = [b.stats()[2] for b in books]
                sim.native.corrupt_depth(v, m, skip=1)
                # (A symbol that publishes nothing meanwhile has no diff to lose: most do.)
                await until(
                    lambda: sum(b.stats()[2] > n for b, n in zip(books, before, strict=True)) >= 150,
                    20,
                    "150 books or more saw their gap",
                )
                await until(lambda: all(b.is_synced for b in books), 30, "all 200 books resynced")
                assert sim.native.violations(v, m) == (0, 0, 0)
            lost_before = [b.stats()[2] for b in books]
            sim.native.drop_connections(v, m)
            # Every book lost sync (counted: the fastest resync before the slowest loss would
            # hide it from a look at one instant).
            await until(
                lambda: all(b.stats()[2] > n for b, n in zip(books, lost_before, strict=True)),
                10,
                "every book unsynced",
            )
            await until(lambda: all(b.is_synced for b in books), 30, "all 200 books back")
            assert sim.native.violations(v, m) == (0, 0, 0)
            for book in random.Random(3).sample(books, 5):
                await equals_truth(sim, book, venue, market, n=10)
            weight = [limit for limit in c.health().limits if limit.name.startswith("REQUEST_WEIGHT")]
            assert all(limit.used <= limit.limit for limit in weight)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), [("binance", "usdm"), ("bybit", "spot")])
async def test_books_equal_the_true_book_at_every_checkpoint_of_a_faulty_run(venue: str, market: str) -> None:
    """A fixed-seed run of 12 rounds: each injects a random fault (skipped, repeated or reordered
    diffs on a random symbol, or a lost connection) into a busy market, lets it run, then
    checks every book against the venue's true book."""
    rng = random.Random(35)
    with Simulator(seed=35, steps_per_second=200, time_scale=10) as sim:
        v, m = sim.native_venue(venue), sim.native_market(market)
        async with connect(sim, venue, market) as c:
            symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
            books = [await c.book(s, depth=20) for s in symbols]
            for _ in range(12):
                fault = rng.choice(["skip", "duplicate", "reorder", "drop", "none"])
                if fault == "drop":
                    sim.native.drop_connections(v, m)
                elif fault != "none":
                    sim.native.corrupt_depth(v, m, symbol=rng.choice(symbols), **{fault: rng.randint(1, 3)})
                await asyncio.sleep(rng.uniform(0.05, 0.4))
                for book in books:
                    await equals_truth(sim, book, venue, market)
            assert sum(b.stats()[2] for b in books) > 0, "the run did put the books through resyncs"
            assert sim.native.violations(v, m) == (0, 0, 0)

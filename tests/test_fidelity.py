"""What real venues do that our own beliefs once missed (issue 18), over loopback sockets:
books holding legacy levels off the current tick and step, a tick change mid-session, a
book that cannot sync backing off without burning the REST budget, and Bybit books left
alone while they sync."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, equals_truth, until
from .trading import resting_buy, trader

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]


def off_new_grid(price: Decimal, tick: Decimal, old_tick: Decimal) -> Decimal:
    """A price on the old tick but off the new, coarser one."""
    return (price // tick) * tick + old_tick


def off_grid(levels: list[tw.Level], tick: Decimal, step: Decimal) -> int:
    return sum(1 for lv in levels if lv.price % tick or lv.qty % step)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_book_keeps_the_legacy_levels_a_real_book_holds(venue: str, market: str) -> None:
    with Simulator(legacy_levels=5) as sim:
        async with connect(sim, venue, market) as c:
            info = await c.symbol_info("BTCUSDT")
            with await c.book("BTCUSDT", depth=1000) as book:
                await equals_truth(sim, book, venue, market, n=1000)
                view = book.snapshot(1000)
                assert off_grid(view.bids, info.tick_size, info.step_size) >= 5
                assert off_grid(view.asks, info.tick_size, info.step_size) >= 5
                assert c.health().books[0].resyncs == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_tick_and_step_change_mid_session_keeps_the_book_in_sync(venue: str, market: str) -> None:
    with Simulator(legacy_levels=2) as sim:
        async with connect(sim, venue, market) as c:
            info = await c.symbol_info("BTCUSDT")
            with await c.book("BTCUSDT", depth=200) as book:
                await equals_truth(sim, book, venue, market, n=200)
                tick, step = info.tick_size * 10, info.step_size * 10
                sim.set_symbol_rules(venue, market, "BTCUSDT", tick=tick, step=step)
                synced_at = c.health().books[0].update_id or 0
                # The market goes on quoting on the new grid; the old levels stay.
                await until(lambda: (book.update_id or 0) > synced_at + 20, 10, "updates after the change")
                await equals_truth(sim, book, venue, market, n=200)
                (health,) = c.health().books
                assert health.resyncs == 0 and health.failures == 0, health


@pytest.mark.asyncio
async def test_fifty_bybit_books_opened_together_are_never_resubscribed() -> None:
    with Simulator(extra_symbols=50) as sim:
        async with connect(sim, "bybit", "linear") as c:
            symbols = [f"S{i}USDT" for i in range(50)]
            books = await asyncio.gather(*(c.book(s, depth=50) for s in symbols))
            # Past several rounds of the periodic check for unsynced books.
            await asyncio.sleep(3)
            assert all(b.is_synced for b in books)
            assert sim.native.unsubscribed(tw.Venue.BYBIT, tw.Market.LINEAR) == 0
            assert all(h.resyncs == 0 for h in c.health().books)
            for b in books:
                b.close()


@pytest.mark.asyncio
async def test_a_book_that_cannot_sync_backs_off_and_orders_still_go_through() -> None:
    """Every diff of the symbol's stream arrives out of order, so its book never stays in sync:
    each failed attempt waits longer, it says so, and the REST budget is left to orders."""
    with Simulator(steps_per_second=100) as sim:
        async with trader(sim, "binance", "spot") as c:
            sim.native.corrupt_depth(tw.Venue.BINANCE, tw.Market.SPOT, reorder=10**9, symbol="BTCUSDT")
            book = c.native.book_updates(["BTCUSDT"], depth=10)
            try:
                await until(lambda: any(b.failures >= 3 for b in c.health().books), 20, "three failures")
                (health,) = c.health().books
                assert not health.is_synced
                assert health.retry_in is not None and health.last_reason
                weight = next(lim for lim in c.health().limits if lim.name.startswith("REQUEST_WEIGHT"))
                assert weight.used < weight.limit // 5, weight
                price, qty = await resting_buy(sim, c, "binance", "spot")
                order = await c.place_limit("BTCUSDT", "BUY", qty, price)
                assert order.status == tw.OrderStatus.NEW
                await c.cancel("BTCUSDT", order_id=order.order_id)
            finally:
                book.close()


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_changed_rules_are_read_again_and_told(venue: str, market: str) -> None:
    with Simulator() as sim:
        async with trader(sim, venue, market, symbols_interval=0.3) as c:
            events = c.events()
            info = await c.symbol_info("BTCUSDT")
            tick, step = info.tick_size * 10, info.step_size * 10
            sim.set_symbol_rules(venue, market, "BTCUSDT", tick=tick, step=step)
            async with asyncio.timeout(10):
                async for event in events:
                    if event.kind == "symbol_rules_changed" and event.fields["symbol"] == "BTCUSDT":
                        break
            changes = event.fields["changes"]
            assert f"tick_size {info.tick_size.normalize()} -> {tick.normalize()}" in changes, changes
            assert f"step_size {info.step_size.normalize()} -> {step.normalize()}" in changes, changes
            now = await c.symbol_info("BTCUSDT")
            assert (now.tick_size, now.step_size) == (tick, step)
            # Our own check now refuses what only the old grid allowed, before the venue sees it.
            price, qty = await resting_buy(sim, c, venue, market)
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_limit("BTCUSDT", "BUY", qty, off_new_grid(price, tick, info.tick_size))
            assert "tick" in str(refused.value), refused.value


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot")])
async def test_an_order_refused_for_a_filter_reads_the_rules_again(venue: str, market: str) -> None:
    with Simulator() as sim:
        async with trader(sim, venue, market) as c:
            events = c.events()
            info = await c.symbol_info("BTCUSDT")
            price, qty = await resting_buy(sim, c, venue, market)
            tick = info.tick_size * 10
            sim.set_symbol_rules(venue, market, "BTCUSDT", tick=tick)
            # On the old grid, which we still hold: the venue refuses it for its price filter.
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_limit("BTCUSDT", "BUY", qty, off_new_grid(price, tick, info.tick_size))
            assert refused.value.code is not None, "refused by the venue, not by our check"
            assert (await c.symbol_info("BTCUSDT")).tick_size == info.tick_size * 10
            async with asyncio.timeout(5):
                async for event in events:
                    if event.kind == "symbol_rules_changed":
                        assert "tick_size" in event.fields["changes"]
                        break


@pytest.mark.asyncio
@pytest.mark.asyncio_only
async def test_two_hundred_books_failing_forever_leave_the_rest_budget_to_orders() -> None:
    """200 Binance books whose streams arrive out of order never stay in sync: after their
    first attempts, their retries together stay within a tenth of the weight limit in every
    window (checked: under a fifth), and an order goes through meanwhile. A minute is a second
    here (time_scale=60), so each window is a second of 6,000 weight."""
    symbols = [f"S{i}USDT" for i in range(200)]
    with Simulator(extra_symbols=200, time_scale=60, steps_per_second=20) as sim:
        sim.native.corrupt_depth(tw.Venue.BINANCE, tw.Market.SPOT, reorder=10**9)
        async with trader(sim, "binance", "spot") as c:
            stream = c.native.book_updates(symbols, depth=5)
            try:
                # Past the books' first attempts (the first sync and the first retry go at once).
                # Nearly all: the budget is what is measured here. (2 of the 200 once never
                # failed at all: their topics were wanted while the connection was opening and
                # never sent, fixed in net/ws.rs; the slack stays until full runs confirm it.)
                def behind() -> str:
                    health = c.health()
                    late = [b for b in health.books if b.failures < 2]
                    topics = {b.topic for b in late}
                    delivered = [s for s in health.subscriptions if s[0] in topics]
                    return f"retries; {len(late)} books not yet: {late[:5]}; their streams: {delivered}"

                await until(lambda: sum(b.failures >= 2 for b in c.health().books) >= 190, 45, behind)
                # Every book's stream delivers (none lost while its connection was opening).
                await until(lambda: all(age is not None for _, age in c.health().subscriptions), 10, behind)
                await asyncio.sleep(1.1)  # one weight window, so the count starts clean
                peak = 0
                loop = asyncio.get_running_loop()
                end = loop.time() + 5
                while loop.time() < end:
                    weight = next(lim for lim in c.health().limits if lim.name.startswith("REQUEST_WEIGHT"))
                    peak = max(peak, weight.used)
                    await asyncio.sleep(0.05)
                assert peak < weight.limit // 5, (peak, weight)
                assert sum(b.is_synced and not b.failures for b in c.health().books) <= 10
                price, qty = await resting_buy(sim, c, "binance", "spot")
                order = await c.place_limit("BTCUSDT", "BUY", qty, price)
                assert order.status == tw.OrderStatus.NEW
                await c.cancel("BTCUSDT", order_id=order.order_id)
            finally:
                stream.close()

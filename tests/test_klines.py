"""Candles (issue 22 item 1, MKTD): `klines()` by REST and `kline_updates()` live on the four
markets over real sockets, each checked against the simulator's true candles (made from its own
trades). A consumer of closed candles sees every one exactly once and in order, also when the
stream misses some: a frozen connection, a dropped one, a venue clock that jumps ahead. Closed
candles the stream never sent are read by REST, in the venue's own paging."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, until

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]
#: The smallest interval each market has.
SMALLEST = {
    ("binance", "spot"): "1s",
    ("binance", "usdm"): "1m",
    ("bybit", "spot"): "1m",
    ("bybit", "linear"): "1m",
}
KLINE_PATH = {
    "binance": {"spot": "GET /api/v3/klines", "usdm": "GET /fapi/v1/klines"},
    "bybit": "GET /v5/market/kline",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=41, steps_per_second=100) as running:
        yield running


def figures(k: tw.Kline) -> tuple[object, ...]:
    """What a candle says, without when it was received."""
    return (
        k.symbol,
        k.interval,
        k.open_time_ms,
        k.close_time_ms,
        k.open,
        k.high,
        k.low,
        k.close,
        k.volume,
        k.closed,
    )


def kline_requests(sim: Simulator, venue: str, market: str) -> int:
    """Kline requests the venue served (Bybit counts both categories under spot)."""
    if venue == "bybit":
        return sim.native.rest_requests(tw.Venue.BYBIT, tw.Market.SPOT).get("GET /v5/market/kline", 0)
    path = KLINE_PATH["binance"]
    assert isinstance(path, dict)
    return sim.native.rest_requests(tw.Venue.BINANCE, tw.Market(market)).get(path[market], 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_rest_candles_equal_the_venues_and_only_the_last_is_open(
    sim: Simulator, venue: str, market: str
) -> None:
    interval = tw.Interval(SMALLEST[(venue, market)])
    async with connect(sim, venue, market) as c:
        await asyncio.sleep(2.2)
        got = await c.klines("BTCUSDT", interval, limit=5)
        truth = sim.candles(venue, market, "BTCUSDT", interval, start_ms=got[0].open_time_ms)
        assert 1 <= len(got) <= 5
        assert [k.open_time_ms for k in got] == sorted({k.open_time_ms for k in got})
        # Closed candles are final: equal to the venue's. The last one may still be open.
        closed = [k for k in got if k.closed]
        assert [figures(k) for k in closed] == [figures(t) for t in truth[: len(closed)]]
        assert all(k.closed for k in got[:-1])
        for k in got:
            assert (k.venue.value, k.market.value, k.interval) == (venue, market, tw.Interval(interval))
            assert k.low <= min(k.open, k.close) <= max(k.open, k.close) <= k.high
            assert (k.trades is None) == (venue == "bybit")
        # A window by datetime reads the same candles.
        start = datetime.fromtimestamp(got[0].open_time_ms / 1000, tz=UTC)
        again = await c.klines("BTCUSDT", interval, start=start, limit=len(got))
        assert [figures(k) for k in again if k.closed][: len(closed)] == [figures(k) for k in closed]


@pytest.mark.asyncio
async def test_binance_pages_from_start_and_the_latest_up_to_end(sim: Simulator) -> None:
    async with connect(sim, "binance", "spot") as c:
        await asyncio.sleep(4.5)
        truth = [t for t in sim.candles("binance", "spot", "ETHUSDT", "1s") if t.closed]
        assert len(truth) >= 4
        first = await c.klines("ETHUSDT", "1s", start=truth[0].open_time_ms, limit=2)
        assert [figures(k) for k in first] == [figures(t) for t in truth[:2]]
        # Paging on from the last one read continues without a gap or a repeat.
        rest = await c.klines("ETHUSDT", "1s", start=first[-1].close_time_ms + 1, limit=2)
        assert [figures(k) for k in rest] == [figures(t) for t in truth[2:4]]
        latest = await c.klines("ETHUSDT", "1s", end=truth[3].open_time_ms, limit=3)
        assert [figures(k) for k in latest] == [figures(t) for t in truth[1:4]]


@pytest.mark.asyncio
async def test_bad_candle_requests_are_typed_errors_before_anything_is_sent(sim: Simulator) -> None:
    async with connect(sim, "bybit", "linear") as c, connect(sim, "binance", "usdm") as u:
        before = kline_requests(sim, "bybit", "linear")
        with pytest.raises(tw.InvalidArgument, match="8h"):
            await c.klines("BTCUSDT", "8h")
        with pytest.raises(tw.InvalidArgument, match="1s"):
            await u.klines("BTCUSDT", "1s")
        with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
            await c.klines("NOPEUSDT", "1m")
        with pytest.raises(tw.InvalidArgument, match="Interval"):
            await c.klines("BTCUSDT", "7m")  # type: ignore[arg-type]
        with pytest.raises(tw.InvalidArgument, match="limit"):
            await c.klines("BTCUSDT", "1m", limit=1001)
        with pytest.raises(tw.InvalidArgument, match="limit"):
            await c.klines("BTCUSDT", "1m", limit=0)
        with pytest.raises(tw.InvalidArgument, match="start"):
            await c.klines("BTCUSDT", "1m", start=2_000, end=1_000)
        with pytest.raises(tw.InvalidArgument, match="timezone"):
            await c.klines("BTCUSDT", "1m", start=datetime(2026, 1, 1))
        with pytest.raises(TypeError):
            await c.klines("BTCUSDT", "1m", start=1.5e12)  # type: ignore[arg-type]
        with pytest.raises(tw.InvalidArgument, match="8h"):
            c.kline_updates("BTCUSDT", interval="8h")
        with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
            c.kline_updates("NOPEUSDT", interval="1m")
        assert kline_requests(sim, "bybit", "linear") == before
    # `1m` is the minute, `1M` the month; the other names take either case.
    assert (tw.Interval("1m"), tw.Interval("1M"), tw.Interval("1H")) == (
        tw.Interval.M1,
        tw.Interval.MN1,
        tw.Interval.H1,
    )


async def closed_candles(
    stream: tw.Stream[tw.Kline], count: int, within: float
) -> tuple[list[tw.Kline], int]:
    """The next `count` closed candles of a stream, and how many open updates came between."""
    closed: list[tw.Kline] = []
    opened = 0

    async def read() -> None:
        nonlocal opened
        async for k in stream:
            if k.closed:
                closed.append(k)
                if len(closed) == count:
                    return
            else:
                opened += 1

    await asyncio.wait_for(read(), within)
    return closed, opened


def consecutive(klines: list[tw.Kline]) -> bool:
    return all(b.open_time_ms == a.close_time_ms + 1 for a, b in itertools.pairwise(klines))


@pytest.mark.asyncio
async def test_each_closed_candle_arrives_once_in_order_across_a_frozen_and_a_dropped_connection(
    sim: Simulator,
) -> None:
    async with (
        connect(sim, "binance", "spot") as c,
        c.kline_updates("BTCUSDT", "ETHUSDT", interval="1s") as stream,
    ):
        first, opened = await closed_candles(stream, 4, 15)
        assert opened > 0, "open candles come as they change"
        before = kline_requests(sim, "binance", "spot")
        # Frozen: the candles closing meanwhile are never sent on this connection.
        sim.native.freeze(tw.Venue.BINANCE, tw.Market.SPOT, True)
        await asyncio.sleep(3.2)
        sim.native.freeze(tw.Venue.BINANCE, tw.Market.SPOT, False)
        await asyncio.sleep(1.5)
        # Dropped: the new connection starts at the current candle.
        sim.native.drop_connections(tw.Venue.BINANCE, tw.Market.SPOT)
        more, _ = await closed_candles(stream, 16, 30)
        assert kline_requests(sim, "binance", "spot") > before, "the missed candles were read by REST"
    seen = first + more
    for symbol in ("BTCUSDT", "ETHUSDT"):
        mine = [k for k in seen if k.symbol == symbol]
        assert consecutive(mine), [k.open_time_ms for k in mine]
        truth = {
            t.open_time_ms: t
            for t in sim.candles("binance", "spot", symbol, "1s", start_ms=mine[0].open_time_ms)
        }
        assert [figures(k) for k in mine] == [figures(truth[k.open_time_ms]) for k in mine]
        assert all(k.trades == truth[k.open_time_ms].trades for k in mine)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), [("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")])
async def test_minute_candles_skipped_by_a_clock_jump_are_read_by_rest_once(venue: str, market: str) -> None:
    """The venue clock jumps 3.5 minutes ahead: the stream closes the candle it was on and sends
    the current one; the two or three in between (no trades: flat at the last price) come by
    REST before it, each once. The first three closed candles are the one it was on and the
    first two skipped."""
    with Simulator(seed=43, steps_per_second=100) as sim:
        async with connect(sim, venue, market) as c, c.kline_updates("BTCUSDT", interval="1m") as stream:
            opening = await asyncio.wait_for(anext(aiter(stream)), 15)
            assert not opening.closed
            sim.native.set_clock(tw.Venue(venue), skew_ms=210_000)
            closed, _ = await closed_candles(stream, 3, 30)
        assert closed[0].open_time_ms == opening.open_time_ms
        assert consecutive(closed), [k.open_time_ms for k in closed]
        truth = {
            t.open_time_ms: t
            for t in sim.candles(venue, market, "BTCUSDT", "1m", start_ms=closed[0].open_time_ms)
        }
        assert [figures(k) for k in closed] == [figures(truth[k.open_time_ms]) for k in closed]
        assert all(k.volume == 0 and k.open == k.close == closed[0].close for k in closed[1:])
        assert kline_requests(sim, venue, market) >= 1


@pytest.mark.asyncio
async def test_a_reader_that_leaves_ends_the_subscription(sim: Simulator) -> None:
    async with connect(sim, "bybit", "linear") as c:
        async with c.kline_updates("BTCUSDT", interval="1m") as stream:
            await asyncio.wait_for(anext(aiter(stream)), 15)
            assert any(s == "kline.1.BTCUSDT" for s, _ in c.health().subscriptions)
        await until(
            lambda: not any(s.startswith("kline.") for s, _ in c.health().subscriptions), 10, "unsubscribed"
        )

"""The Rust → asyncio stream bridge: batching, wake-ups, overflow policies, release."""

from __future__ import annotations

import asyncio
import contextlib
import gc

import pytest
import tradewire as tw
from tradewire.testing import synthetic_stream

pytestmark = pytest.mark.asyncio


async def wait_outcome(producer: tw.testing.Producer, within: float = 5.0) -> str:
    return str(await asyncio.wait_for(producer.wait(), within))


async def test_delivers_every_event_in_order_then_ends_quietly() -> None:
    stream, producer = synthetic_stream("trades", 100_000, overflow="never_drop", capacity=1 << 17)
    ids = [int(event.trade_id) async for event in stream if isinstance(event, tw.Trade)]
    assert ids == list(range(100_000))
    assert await wait_outcome(producer) == "finished"


async def test_parked_consumer_is_woken_for_each_slow_event() -> None:
    # One event every 2 ms: the consumer parks between events and must be woken every time.
    stream, producer = synthetic_stream("trades", 40, batch=1, interval_us=2_000)
    received = [event async for event in stream]
    assert [e.trade_id for e in received if isinstance(e, tw.Trade)] == [str(i) for i in range(40)]
    assert await wait_outcome(producer) == "finished"


async def test_many_streams_share_one_loop_waker() -> None:
    pairs = [synthetic_stream("trades", 25, batch=1, interval_us=1_000) for _ in range(20)]

    async def consume(stream: tw.Stream[tw.Trade | tw.Gap]) -> int:
        return len([e async for e in stream])

    counts = await asyncio.gather(*(consume(s) for s, _ in pairs))
    assert counts == [25] * 20


async def test_gap_marker_reports_exactly_how_many_were_dropped_and_where() -> None:
    stream, producer = synthetic_stream("trades", 10_000, overflow="gap_marker", capacity=100, batch=50)
    assert await wait_outcome(producer) == "finished"  # the consumer has not read anything yet
    expected_next = 0
    gaps = []
    async for event in stream:
        if isinstance(event, tw.Gap):
            gaps.append(event.missed)
            expected_next += event.missed
        else:
            assert int(event.trade_id) == expected_next, "events after a gap continue after the hole"
            expected_next += 1
    assert expected_next == 10_000, "delivered + missed accounts for every event"
    assert sum(gaps) == 10_000 - 100
    assert gaps == [9_900]
    delivered, dropped, _ = stream.counters()
    assert (delivered, dropped) == (100, 9_900)


async def test_conflation_keeps_only_the_latest_per_symbol() -> None:
    stream, producer = synthetic_stream("tickers", 10_000, overflow="conflate", symbols=5)
    assert await wait_outcome(producer) == "finished"
    latest = {event.symbol: event.last async for event in stream if isinstance(event, tw.Ticker)}
    # Ticker i belongs to symbol S(i % 5) and carries last = i.
    assert latest == {f"S{k}": 9_995 + k for k in range(5)}
    delivered, _, conflated = stream.counters()
    assert delivered == 5
    assert conflated == 9_995


async def test_never_drop_overflow_raises_slow_consumer_after_delivering_the_buffer() -> None:
    stream, producer = synthetic_stream("trades", 50_000, overflow="never_drop", capacity=1_000)
    assert await wait_outcome(producer) == "slow_consumer"
    received: list[tw.Trade | tw.Gap] = []

    async def drain_all() -> None:
        async for event in stream:
            received.append(event)

    with pytest.raises(tw.SlowConsumer) as info:
        await drain_all()
    assert len(received) == 1_000
    assert info.value.capacity == 1_000
    assert isinstance(info.value, tw.TradewireError)


async def test_break_from_a_temporary_stream_releases_the_producer() -> None:
    stream, producer = synthetic_stream("trades", 0, capacity=1_024, interval_us=100)
    seen = 0
    async for _ in stream:
        seen += 1
        if seen == 10:
            break
    del stream  # the loop held the only other reference
    gc.collect()
    assert await wait_outcome(producer) == "consumer_gone"


async def test_aclose_releases_the_producer_even_while_referenced() -> None:
    stream, producer = synthetic_stream("trades", 0, capacity=1_024, interval_us=100)
    async for _ in stream:
        break
    await stream.aclose()
    assert await wait_outcome(producer) == "consumer_gone"
    assert [e async for e in stream] == [], "a closed stream ends at once"


async def test_async_with_releases_on_exit() -> None:
    stream, producer = synthetic_stream("trades", 0, capacity=1_024, interval_us=100)
    async with stream:
        first = await stream.recv()
        assert isinstance(first, tw.Trade)
    assert await wait_outcome(producer) == "consumer_gone"


async def test_cancelling_a_pending_next_loses_no_event() -> None:
    # A slow producer and a consumer that keeps timing out while parked.
    stream, producer = synthetic_stream("trades", 30, batch=1, interval_us=3_000)
    received: list[int] = []
    timeouts = 0
    deadline = asyncio.get_running_loop().time() + 10
    while len(received) < 30:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(received)} events arrived"
        try:
            # Alternate the two cancellation-safe spellings.
            wait = stream.recv() if len(received) % 2 else anext(stream)
            event = await asyncio.wait_for(wait, 0.001)
        except TimeoutError:
            timeouts += 1
            continue
        assert isinstance(event, tw.Trade)
        received.append(int(event.trade_id))
    assert received == list(range(30))
    assert timeouts > 0, "the test must actually cancel parked waits"
    assert await wait_outcome(producer) == "finished"


async def test_rejects_unknown_policies_with_a_typed_error() -> None:
    with pytest.raises(tw.InvalidArgument, match="'sometimes' is not one of"):
        synthetic_stream("trades", 1, overflow="sometimes")  # type: ignore[call-overload]
    with pytest.raises(tw.InvalidArgument, match="trades cannot be conflated"):
        synthetic_stream("trades", 1, overflow="conflate")


async def test_cancelling_a_task_running_async_for_keeps_the_stream_usable() -> None:
    stream, producer = synthetic_stream("trades", 20, batch=1, interval_us=5_000)
    received: list[int] = []

    async def consume() -> None:
        async for event in stream:
            assert isinstance(event, tw.Trade)
            received.append(int(event.trade_id))

    for _ in range(3):
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.012)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    async for event in stream:
        assert isinstance(event, tw.Trade)
        received.append(int(event.trade_id))
    assert received == list(range(20))
    assert await wait_outcome(producer) == "finished"


async def test_break_then_anext_continues_with_the_next_event() -> None:
    stream, _ = synthetic_stream("trades", 1_000, overflow="never_drop", capacity=2_048)
    async for event in stream:
        assert isinstance(event, tw.Trade)
        assert event.trade_id == "0"
        break
    following = await anext(stream)
    assert isinstance(following, tw.Trade)
    assert following.trade_id == "1"
    rest = [e async for e in stream]
    assert len(rest) == 998

"""Benchmark: Rust-produced events delivered into a Python ``async for``.

Compares, in one run and on one event loop:
- tradewire: a Tokio task producing ``Trade`` events into a bounded Rust queue, drained by
  ``tradewire.Stream`` (batch drain, woken only on empty → non-empty);
- baseline: a Python producer task feeding ``asyncio.Queue`` (``put_nowait``/``get``) with the
  same ``Trade`` objects, consumed by ``await queue.get()``.

Reports events/s and ns/event (best of ``--rounds``) and the ratio. Not a test: run it with
``make bench-bridge``. ``--loop uvloop`` runs both on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import platform
import time
from collections.abc import Awaitable, Callable

import tradewire as tw
from tradewire.testing import synthetic_stream


async def bench_tradewire(n: int) -> float:
    stream, producer = synthetic_stream(
        "trades", n, overflow="never_drop", capacity=1 << 20, batch=1024, backpressure=True
    )
    received = 0
    start = time.perf_counter()
    async for event in stream:
        if isinstance(event, tw.Gap):
            raise RuntimeError("a never-drop stream delivered a gap")
        received += 1
    elapsed = time.perf_counter() - start
    outcome = await producer.wait()
    if received != n or outcome != "finished":
        raise RuntimeError(f"tradewire delivered {received}/{n} ({outcome})")
    return elapsed


def make_trades(count: int) -> list[tw.Trade]:
    return [
        tw.Trade(
            venue=tw.Venue.BINANCE,
            market=tw.Market.SPOT,
            symbol="S0",
            trade_id=str(i),
            price="50000.00",
            qty="0.001",
            side=tw.Side.BUY,
            exchange_time_ms=i,
        )
        for i in range(count)
    ]


async def bench_asyncio_queue(n: int, events: list[tw.Trade]) -> float:
    queue: asyncio.Queue[tw.Trade | None] = asyncio.Queue()
    pool = len(events)

    async def produce() -> None:
        for i in range(n):
            queue.put_nowait(events[i % pool])
            if i % 1024 == 1023:  # hand the loop over like a batching producer would
                await asyncio.sleep(0)
        queue.put_nowait(None)

    task = asyncio.get_running_loop().create_task(produce())
    received = 0
    start = time.perf_counter()
    while True:
        event = await queue.get()
        if event is None:
            break
        received += 1
    elapsed = time.perf_counter() - start
    await task
    if received != n:
        raise RuntimeError(f"asyncio.Queue delivered {received}/{n}")
    return elapsed


async def best_of(rounds: int, run: Callable[[], Awaitable[float]]) -> float:
    times = []
    for _ in range(rounds):
        gc.collect()
        times.append(await run())
    return min(times)


async def main(n: int, rounds: int) -> None:
    events = make_trades(4096)
    ours = await best_of(rounds, lambda: bench_tradewire(n))
    base = await best_of(rounds, lambda: bench_asyncio_queue(n, events))
    loop = type(asyncio.get_running_loop()).__module__
    print(f"tradewire {tw.__version__} | Python {platform.python_version()} | {loop} | {platform.machine()}")
    print(f"events per run: {n:,}, best of {rounds}")
    print(f"{'path':<34}{'events/s':>14}{'ns/event':>10}")
    for name, elapsed in (
        ("tradewire Stream (Rust producer)", ours),
        ("asyncio.Queue (Python producer)", base),
    ):
        print(f"{name:<34}{n / elapsed:>14,.0f}{elapsed / n * 1e9:>10.0f}")
    print(f"ratio: {base / ours:.2f}x the asyncio.Queue baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args.events, args.rounds))
    else:
        asyncio.run(main(args.events, args.rounds))

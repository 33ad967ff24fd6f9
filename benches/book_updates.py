"""Benchmark: the cost of one book delta reaching Python through ``book_updates``.

The embedded simulator streams diff-depth messages for ``--symbols`` books over loopback; the
connector parses and applies them in Rust and hands the latest ``BookView`` of each book to one
``async for``. For a measured window after warm-up it reports:

- deltas applied per second (from ``health().books``) and views delivered to Python per second
  (conflation merges deltas when Python is behind);
- CPU time of the Python thread per view (``time.thread_time``: the Python side of the trip,
  building and reading the view), and CPU time of the whole process per delta (which includes
  the simulator, running in this process);
- latency from the socket read in Rust (``view.local_time_ns``) to the Python consumer,
  p50 / p99 / p99.9.

Not a test: ``make bench`` runs it. The Rust half (parse + apply + publish) is measured alone by
``cargo bench -p tradewire-benches --bench book``.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import time

import tradewire as tw
from tradewire.testing import Simulator


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))] / 1000


async def measure(args: argparse.Namespace) -> None:
    with Simulator(
        steps_per_second=args.steps, time_scale=args.time_scale, extra_symbols=args.symbols
    ) as sim:
        # Only the market under test moves: the simulator shares this process's CPU.
        for venue, market in [
            ("binance", "spot"),
            ("binance", "usdm"),
            ("bybit", "spot"),
            ("bybit", "linear"),
        ]:
            if (venue, market) != (args.venue, args.market):
                sim.native.pause(sim.native_venue(venue), sim.native_market(market), True)
        endpoints = sim.endpoints(args.venue, args.market)
        connector: tw.Binance | tw.Bybit
        if args.venue == "binance":
            connector = tw.Binance(args.market, endpoints=endpoints)
        else:
            connector = tw.Bybit(args.market, endpoints=endpoints)
        symbols = [f"S{i}USDT" for i in range(args.symbols)]
        async with connector:
            books = [await connector.book(s, depth=args.depth) for s in symbols]

            def applied() -> int:
                return sum(b.stats()[0] for b in books)

            latencies: list[int] = []
            views = 0
            stream = connector.book_updates(*symbols, depth=10)
            loop = asyncio.get_running_loop()
            warm_until = loop.time() + args.warmup
            end = warm_until + args.seconds
            measuring = False
            applied_at_start = 0
            thread_cpu = process_cpu = 0.0
            async for view in stream:
                now = time.time_ns()
                if not measuring:
                    if loop.time() < warm_until:
                        continue
                    measuring = True
                    applied_at_start = applied()
                    thread_cpu, process_cpu = time.thread_time(), time.process_time()
                    started = loop.time()
                if not view.is_synced:
                    reason = [b.stats() for b in books if b.symbol == view.symbol]
                    raise RuntimeError(f"{view.symbol} lost sync during the benchmark: {reason}")
                latencies.append(now - view.local_time_ns)
                views += 1
                if loop.time() >= end:
                    break
            elapsed = loop.time() - started
            thread_cpu = time.thread_time() - thread_cpu
            process_cpu = time.process_time() - process_cpu
            deltas = applied() - applied_at_start
            for b in books:
                b.close()
    latencies.sort()
    print(
        f"tradewire {tw.__version__} · {args.venue} {args.market} · {args.symbols} books · "
        f"Python {platform.python_version()} on {platform.machine()} · loop {args.loop}"
    )
    print(f"deltas applied     {deltas / elapsed:>12,.0f} /s")
    print(f"views to Python    {views / elapsed:>12,.0f} /s  ({views / max(deltas, 1):.2f} per delta)")
    print(f"Python CPU / view  {thread_cpu / max(views, 1) * 1e6:>12.2f} µs")
    print(f"process CPU / delta{process_cpu / max(deltas, 1) * 1e6:>12.2f} µs  (includes the simulator)")
    print(
        "latency socket→Python  "
        f"p50 {percentile(latencies, 0.5):.0f} µs · p99 {percentile(latencies, 0.99):.0f} µs · "
        f"p99.9 {percentile(latencies, 0.999):.0f} µs"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venue", choices=["binance", "bybit"], default="binance")
    parser.add_argument("--market", choices=["spot", "usdm", "linear"], default="spot")
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--depth", type=int, default=50, help="Bybit topic depth")
    parser.add_argument("--steps", type=int, default=20_000, help="simulator market steps/s")
    parser.add_argument(
        "--time-scale", type=int, default=20, help="divides the venue's 100 ms depth interval"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(measure(args))
    else:
        asyncio.run(measure(args))


if __name__ == "__main__":
    main()

"""Benchmark: place -> acknowledgement latency and client CPU, WebSocket order entry vs REST
(issue 21, item 4), with ccxt's REST ``create_order`` and WebSocket ``create_order_ws`` as the
peer in the same run.

The simulator runs in a child process (its CPU is not the client's). For each venue market and
path, one connector places a resting LIMIT buy far below the book and cancels it, ``--orders``
times after a warm-up; measured per order: the wall time of ``place_limit`` (from the call to
the order returned through the state machine), and the client process's CPU time per
place + cancel round. Bybit acknowledges a write with ids only: its ``place_limit`` also looks
the order up (REST) before it returns, on either path, and says so in the table. Each
configuration runs ``--runs`` times (median and range). Not a test:
``python -m benches.order_entry``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import tradewire as tw

from tests.trading import resting_buy

from .simproc import SimProcess

RESULTS = Path(__file__).parent / "results"
SYMBOL = "BTCUSDT"
#: Seconds between rounds, per venue market: under its order rate limits (the simulator's
#: Binance spot 100 orders / 10 s, USD-M 300 / 10 s; Bybit linear 10 creates / s).
PACE = {"spot": 0.11, "usdm": 0.035, "linear": 0.11}
#: Places at once in a burst, and the seconds between bursts (under every market's limits).
BURST, BURST_PACE = 8, 1.2


def cpu() -> float:
    """The process's CPU time, every thread (the connector's Rust runtime included)."""
    return time.process_time()


def summary(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered), ordered[int(0.99 * (len(ordered) - 1))], statistics.mean(ordered))


async def tradewire_run(sim: SimProcess, venue: str, market: str, transport: str, n: int) -> dict[str, float]:
    keys = sim.account(venue)
    kind = tw.Binance if venue == "binance" else tw.Bybit
    async with kind(
        market,  # type: ignore[arg-type]
        endpoints=sim.endpoints(venue, market),
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        transport=transport,  # type: ignore[arg-type]
    ) as c:
        price, qty = await resting_buy(sim, c, venue, market, ticks=500)
        if transport == "ws":
            deadline = time.monotonic() + 10
            while not (c.health().order_entry and c.health().order_entry.up):  # type: ignore[union-attr]
                if time.monotonic() > deadline:
                    raise RuntimeError("the order-entry session did not come up")
                await asyncio.sleep(0.01)
        for _ in range(20):
            await asyncio.sleep(PACE[market])
            o = await c.place_limit(SYMBOL, "buy", qty, price)
            await c.cancel(SYMBOL, client_order_id=o.client_order_id)
        lat: list[float] = []
        used = 0.0
        for _ in range(n):
            # Below the venue's per-account order rate (Bybit linear: 10 creates a second), so
            # the latency is the write's, not the rate limiter's; idle time is not counted.
            await asyncio.sleep(PACE[market])
            start = cpu()
            t0 = time.perf_counter()
            o = await c.place_limit(SYMBOL, "buy", qty, price)
            lat.append((time.perf_counter() - t0) * 1e6)
            await c.cancel(SYMBOL, client_order_id=o.client_order_id)
            used += cpu() - start
        # Bursts: BURST places at once (as a quoter refreshing a ladder), the wall time until
        # the last is acknowledged; then they are canceled at once.
        bursts: list[float] = []
        for _ in range(max(1, n // 15)):
            await asyncio.sleep(BURST_PACE)
            t0 = time.perf_counter()
            placed = await asyncio.gather(*(c.place_limit(SYMBOL, "buy", qty, price) for _ in range(BURST)))
            bursts.append((time.perf_counter() - t0) * 1e6)
            await asyncio.gather(*(c.cancel(SYMBOL, client_order_id=o.client_order_id) for o in placed))
        entry = c.health().order_entry
        if transport == "ws" and (entry is None or entry.sent < n):
            raise RuntimeError(f"writes did not go over the session: {entry}")
    # The venue's per-account windows roll before the next connector (its own limiter) starts.
    await asyncio.sleep(1.5)
    p50, p99, _ = summary(lat)
    return {"p50": p50, "p99": p99, "cpu": used / n * 1e6, "burst": statistics.median(bursts)}


async def ccxt_run(sim: SimProcess, ws: bool, n: int) -> dict[str, float]:
    import ccxt.pro as ccxtpro

    from tests.test_judges import point_ccxt_at

    keys = sim.account("binance")
    e = sim.endpoints("binance", "spot")
    # ccxt's own throttle holds each WebSocket request a quarter second; the rounds here are
    # paced under the venue's limits already, as tradewire's are.
    ex = ccxtpro.binance({"apiKey": keys.api_key, "secret": keys.api_secret, "enableRateLimit": False})
    ex.options["fetchMarkets"] = {"types": ["spot"]}
    point_ccxt_at(ex, e.rest)
    ex.urls["api"]["ws"]["ws-api"]["spot"] = e.ws_api
    try:
        await ex.load_markets()
        bid, _ = sim.best("binance", "spot", SYMBOL)
        price = float(bid - Decimal(5))
        create: Any = ex.create_order_ws if ws else ex.create_order
        cancel: Any = ex.cancel_order_ws if ws else ex.cancel_order
        for _ in range(20):
            await asyncio.sleep(PACE["spot"])
            o = await create("BTC/USDT", "limit", "buy", 0.001, price)
            await cancel(o["id"], "BTC/USDT")
        lat: list[float] = []
        used = 0.0
        for _ in range(n):
            await asyncio.sleep(PACE["spot"])
            start = cpu()
            t0 = time.perf_counter()
            o = await create("BTC/USDT", "limit", "buy", 0.001, price)
            lat.append((time.perf_counter() - t0) * 1e6)
            await cancel(o["id"], "BTC/USDT")
            used += cpu() - start
    finally:
        await ex.close()
    await asyncio.sleep(1.5)
    p50, p99, _ = summary(lat)
    return {"p50": p50, "p99": p99, "cpu": used / n * 1e6}


def row(name: str, runs: list[dict[str, float]]) -> tuple[str, dict[str, float], str]:
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    spread = ", ".join(f"{k} {min(r[k] for r in runs):.0f}-{max(r[k] for r in runs):.0f}" for k in runs[0])
    return name, med, spread


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "order-entry.md")
    args = parser.parse_args()
    markets = [("binance", "spot"), ("binance", "usdm"), ("bybit", "linear")]
    rows = []
    with SimProcess(steps_per_second=0) as sim:
        for venue, market in markets:
            for transport in ("rest", "ws"):
                runs = [
                    await tradewire_run(sim, venue, market, transport, args.orders) for _ in range(args.runs)
                ]
                rows.append(row(f"tradewire {venue}-{market} {transport}", runs))
                print(rows[-1][0], {k: round(v) for k, v in rows[-1][1].items()}, flush=True)
        for ws in (False, True):
            runs = [await ccxt_run(sim, ws, args.orders) for _ in range(args.runs)]
            rows.append(row(f"ccxt binance-spot {'create_order_ws' if ws else 'create_order'}", runs))
            print(rows[-1][0], {k: round(v) for k, v in rows[-1][1].items()}, flush=True)
    by = {name: med for name, med, _ in rows}
    lines = [
        "# Order entry: place -> acknowledgement, WebSocket vs REST",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; simulator in a child process on "
        f"loopback; {args.orders} orders a run, {args.runs} runs (median, range).",
        "",
        "| client and path | place p50 (µs) | place p99 (µs) | client CPU per place + cancel (µs) "
        f"| {BURST} places at once, all acknowledged (µs) | range over runs |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, med, spread in rows:
        burst = f"{med['burst']:.0f}" if "burst" in med else "—"
        lines.append(
            f"| {name} | {med['p50']:.0f} | {med['p99']:.0f} | {med['cpu']:.0f} | {burst} | {spread} |"
        )
    lines += ["", "Ratios in this run (median p50 latency; CPU per round):", ""]
    for venue, market in markets:
        by_rest, by_ws = by[f"tradewire {venue}-{market} rest"], by[f"tradewire {venue}-{market} ws"]
        lines.append(
            f"- tradewire {venue}-{market}: REST / WebSocket place p50 {by_rest['p50'] / by_ws['p50']:.2f}, "
            f"CPU {by_rest['cpu'] / by_ws['cpu']:.2f}, burst {by_rest['burst'] / by_ws['burst']:.2f} "
            "(above 1: the WebSocket path is faster)"
        )
    ours, peer = by["tradewire binance-spot ws"], by["ccxt binance-spot create_order_ws"]
    lines.append(
        f"- Binance spot over WebSocket: ccxt create_order_ws / tradewire place p50 "
        f"{peer['p50'] / ours['p50']:.2f}, CPU per round {peer['cpu'] / ours['cpu']:.2f}"
    )
    lines += [
        "",
        "Bybit answers a write with ids only: tradewire's `place_limit` then reads the order (REST) "
        "before returning, on both paths, so its WebSocket gain is the write's round trip alone.",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())

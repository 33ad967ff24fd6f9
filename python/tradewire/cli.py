"""The ``tradewire`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradewire",
        description="Live, correct connectivity to Binance and Bybit.",
    )
    parser.add_argument("--version", action="version", version=f"tradewire {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="connect to Binance and Bybit on the embedded simulator and show the connectors at work",
        description="Starts the exchange simulator, connects tw.Binance and tw.Bybit to it (signed "
        "requests, clock sync, rate limits, supervised streams), cuts every connection and shows the "
        "recovery, then streams a million trades from Rust into Python and shows the rate.",
    )
    demo.add_argument("--events", type=int, default=1_000_000, help="how many trades to stream")
    sim = commands.add_parser(
        "sim",
        help="run the exchange simulator on 127.0.0.1 until interrupted",
        description="Starts the simulator (Binance spot and USD-M, Bybit spot and linear) on ephemeral "
        "loopback ports and "
        "serves until Ctrl-C or SIGTERM.",
    )
    sim.add_argument("--json", action="store_true", help="print one JSON line with every URL and credential")
    sim.add_argument("--seed", type=int, default=7, help="seed of the synthetic market")
    sim.add_argument("--steps-per-second", type=int, default=50, help="synthetic market steps per symbol")
    sim.add_argument("--time-scale", type=int, default=1, help="divide every venue timer by this factor")
    return parser


def _sim(args: argparse.Namespace) -> int:
    import json
    import signal
    import threading
    from dataclasses import asdict

    from .testing import Simulator

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Simulator(seed=args.seed, steps_per_second=args.steps_per_second, time_scale=args.time_scale) as sim:
        markets = {"binance": ("spot", "usdm"), "bybit": ("spot", "linear")}
        info: dict[str, dict[str, object]] = {}
        for venue, names in markets.items():
            account = sim.account(venue)
            info[venue] = {name: asdict(sim.endpoints(venue, name)) for name in names}
            info[venue]["api_key"] = account.api_key
            info[venue]["api_secret"] = account.api_secret
        if args.json:
            print(json.dumps(info), flush=True)
        else:
            for venue, names in markets.items():
                for name in names:
                    print(f"{venue} {name}: {sim.endpoints(venue, name).rest}", flush=True)
                print(f"{venue} api key: {sim.account(venue).api_key} (secret: --json prints it)", flush=True)
        try:
            while not stop.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
    return 0


async def _connectivity() -> None:
    import json

    from . import Binance, Bybit
    from .testing import Simulator

    with Simulator(seed=7, steps_per_second=200) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        sim.native.set_clock(venue, skew_ms=2_500, drift_us_per_s=1_000)  # a venue clock 2.5 s ahead
        bn_keys, by_keys = sim.account("binance"), sim.account("bybit")
        async with (
            Binance(
                "spot",
                api_key=bn_keys.api_key,
                api_secret=bn_keys.api_secret,
                endpoints=sim.endpoints("binance", "spot"),
            ) as bn,
            Bybit(
                "linear",
                api_key=by_keys.api_key,
                api_secret=by_keys.api_secret,
                endpoints=sim.endpoints("bybit", "linear"),
            ) as by,
        ):
            print(f"binance clock offset {bn.health().clock_offset_ms} ms (the venue runs 2,500 ms ahead)")
            account = await bn.request("GET", "/api/v3/account", signed=True)
            usdt = next(b for b in account["balances"] if b["asset"] == "USDT")
            print(f"binance signed account: USDT free {usdt['free']}")
            wallet = await by.request(
                "GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True
            )
            print(f"bybit signed wallet: equity {wallet['result']['list'][0]['totalEquity']}")
            async with bn.raw_stream("btcusdt@trade") as trades:
                async for message in trades:
                    if not isinstance(message, str):
                        continue  # a Gap: this reader fell behind
                    trade = json.loads(message)["data"]
                    print(f"binance trade {trade['s']} {trade['p']} x {trade['q']}")
                    break
                events = bn.events()
                sim.native.drop_connections(venue, market)
                print("simulator: every binance connection cut")
                async for event in events:
                    if event.kind in ("disconnected", "reconnecting", "resubscribed"):
                        print(f"  event {event.kind} {dict(event.fields)}")
                    if event.kind == "resubscribed":
                        break
                async for message in trades:
                    if isinstance(message, str):
                        print(f"binance trade after the cut: {json.loads(message)['data']['p']}")
                        break
            weight = next(limit for limit in bn.health().limits if limit.name == "REQUEST_WEIGHT 1M")
            violations = sim.native.violations(venue, market)
            print(f"binance request weight used {weight.used}/{weight.limit}; venue violations {violations}")


async def _demo(events: int) -> None:
    import time

    await _connectivity()

    from . import Gap, Trade
    from .testing import synthetic_stream

    stream, producer = synthetic_stream(
        "trades", events, overflow="never_drop", capacity=1 << 20, batch=1024, backpressure=True
    )
    received = 0
    start = time.perf_counter()
    async for event in stream:
        if isinstance(event, Gap):
            raise RuntimeError(f"a never-drop stream reported a gap of {event.missed}")
        received += 1
        if received <= 3 and isinstance(event, Trade):
            print(f"  {event!r}")
    elapsed = time.perf_counter() - start
    outcome = await producer.wait()
    print(f"{received:,} trades from Rust in {elapsed:.2f} s: {received / elapsed:,.0f} events/s ({outcome})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        import asyncio

        asyncio.run(_demo(args.events))
    elif args.command == "sim":
        return _sim(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

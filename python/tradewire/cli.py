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
        help="stream events from the Rust core into Python and show the rates",
        description="Streams synthetic trades from a Rust task into a Python `async for` and shows "
        "what arrives and how fast. (The exchange simulator and live venues join this demo as they land.)",
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


async def _demo(events: int) -> None:
    import time

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

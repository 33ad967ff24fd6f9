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
        help="a live view of BTC/USDT merged across Binance and Bybit, on the embedded simulator",
        description="Starts the exchange simulator with Binance and Bybit spot, connects tw.Binance and "
        "tw.Bybit to it, and shows a live view of the merged BTC/USDT book, the cross-venue best bid and "
        "ask, and an event log. Meanwhile it places, cancels and fills an order on Binance and cuts "
        "Bybit's connections to show the recovery. Ends after --duration or on Ctrl-C, with a summary.",
    )
    demo.add_argument(
        "--duration",
        type=_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long to run (default 30; 0 runs until Ctrl-C)",
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="market data from the real public Binance and Bybit spot endpoints instead (no keys, no orders)",
    )
    demo.add_argument(
        "--headless",
        action="store_true",
        help="print plain text lines instead of the live view (the default when stdout is not a terminal)",
    )
    demo.add_argument("--seed", type=int, default=7, help="seed of the simulator's synthetic market")
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
    gateway = commands.add_parser(
        "gateway",
        help="share venue sessions with many processes through NATS",
        description="Connects to the venues and to NATS as the config file says and publishes "
        "trades, tickers and books on versioned subjects (docs/gateway.md) until Ctrl-C or SIGTERM; "
        "tw.Remote reads them from any process. Logs its counters every few seconds.",
    )
    from .history_cli import add_parser
    from .record_cli import add_parser as add_record

    add_parser(commands)
    add_record(commands)
    gateway.add_argument("--config", required=True, metavar="FILE", help="the gateway's TOML config")
    gateway.add_argument(
        "--duration", type=_seconds, default=0.0, metavar="SECONDS", help="stop after this long (0: never)"
    )
    return parser


def _gateway(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal

    from .errors import TradewireError
    from .gateway import load_config, run_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        config = load_config(args.config)
    except (OSError, ValueError) as e:  # a missing file, bad TOML, a missing key
        print(f"tradewire gateway: {e}", file=sys.stderr)
        return 2

    async def serve() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await run_config(config, duration=args.duration or None)

    try:
        asyncio.run(serve())
    except (KeyboardInterrupt, asyncio.CancelledError):
        pass
    except TradewireError as e:
        print(f"tradewire gateway: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


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


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not seconds >= 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds: {text!r}")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        from .demo import Options, run  # imports rich only for the demo

        return run(Options(duration=args.duration, live=args.live, headless=args.headless, seed=args.seed))
    if args.command == "sim":
        return _sim(args)
    if args.command == "gateway":
        return _gateway(args)
    if args.command == "history":
        from . import history_cli

        return history_cli.run(args)
    if args.command == "record":
        from . import record_cli

        return record_cli.run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())

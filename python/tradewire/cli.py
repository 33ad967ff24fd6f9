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
    return parser


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
    return 0


if __name__ == "__main__":
    sys.exit(main())

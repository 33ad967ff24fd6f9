"""``tradewire record``: records a venue's market data (every frame as received, and the REST
answers the connector reads) into a directory until stopped (Ctrl-C, SIGTERM or --duration),
with a live progress line on a terminal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .errors import TradewireError
from .recording import CHANNELS, Recorder
from .venue_cli import add_venue, venue_market
from .venue_cli import connector as venue_connector


def add_parser(commands: Any) -> None:
    record = commands.add_parser(
        "record",
        help="record a venue's market data (raw frames and REST answers) into a directory",
        description="Connects to the venue, subscribes --channels of --symbols and writes every frame as "
        "received (exact text, receive time in ns, connection) and every public REST answer the connector "
        "reads (symbol listing, book snapshots) into --out: zstd JSON-lines segments rotated by size or "
        "time, indexed by time (docs/recording.md). A crash or kill loses at most the last second. "
        "Read it back with tw.read_recording(DIR). --sim records the embedded simulator.",
    )
    add_venue(record, "record the embedded simulator (no network)")
    record.add_argument("--symbols", required=True, help="comma-separated: BTCUSDT,ETHUSDT (or BTC/USDT)")
    record.add_argument(
        "--channels",
        default=",".join(CHANNELS),
        help=f"comma-separated of {', '.join(CHANNELS)} (default all)",
    )
    record.add_argument(
        "--out", required=True, type=Path, help="the recording directory (created; must not hold one)"
    )
    record.add_argument("--depth", type=int, default=50, help="book depth kept (default 50)")
    record.add_argument(
        "--rotate-mb", type=float, default=64, help="close a segment past this many MiB (default 64)"
    )
    record.add_argument(
        "--rotate-minutes", type=float, default=60, help="or this long after it opened (default 60)"
    )
    record.add_argument(
        "--duration", type=float, default=None, help="stop after this many seconds (default: until stopped)"
    )
    record.add_argument("--quiet", action="store_true", help="no progress line")


def run(args: argparse.Namespace) -> int:
    named = venue_market(args, "record")
    if named is None:
        return 2
    venue, market = named
    try:
        stats = asyncio.run(_record(args, venue, market))
    except (TradewireError, OSError) as e:
        print(f"tradewire record: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(_line(stats, 0.0, final=True), file=sys.stderr)
    return 0 if stats.get("error") is None else 1


async def _record(args: argparse.Namespace, venue: str, market: str) -> dict[str, Any]:
    from contextlib import ExitStack

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    channels = [c.strip() for c in args.channels.split(",") if c.strip()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with ExitStack() as stack:
        connector = venue_connector(stack, venue, market, sim=args.sim)
        async with connector:
            recorder = Recorder(
                connector,
                args.out,
                symbols=symbols,
                channels=channels,
                depth=args.depth,
                rotate_mb=args.rotate_mb,
                rotate_minutes=args.rotate_minutes,
            )
            async with recorder:
                started = time.monotonic()
                live = not args.quiet and sys.stderr.isatty()
                while not stop.is_set():
                    elapsed = time.monotonic() - started
                    if args.duration is not None and elapsed >= args.duration:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
                    if live:
                        print(
                            "\r" + _line(recorder.stats, time.monotonic() - started), end="", file=sys.stderr
                        )
                    elif not args.quiet:
                        print(_line(recorder.stats, time.monotonic() - started), file=sys.stderr, flush=True)
                if live:
                    print(file=sys.stderr)
            return recorder.stats


def _line(stats: dict[str, Any], elapsed: float, final: bool = False) -> str:
    rate = f", {stats['entries'] / elapsed:.0f}/s" if elapsed > 0 else ""
    head = "recorded" if final else f"recording {elapsed:7.0f} s"
    lost = f", {stats['lost']} lost" if stats["lost"] else ""
    return (
        f"{head}: {stats['entries']} messages, {stats['raw_bytes'] / 1e6:.1f} MB raw, "
        f"{stats['bytes'] / 1e6:.1f} MB on disk{rate}, {stats['files']} files{lost}"
    )

"""``tradewire history``: a symbol's candles, fundings, aggregated trades, or the account's own
fills or orders over a range, written to CSV or Parquet (``.parquet``, with the ``data`` extra)
page by page, with a progress bar on a terminal. Money is written exactly: CSV as the venue's
decimal text, Parquet as decimals. The account's kinds read API keys from
``TRADEWIRE_API_KEY`` / ``TRADEWIRE_API_SECRET`` (``--sim``: the simulator's account)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import _native
from .data import COLUMNS, columns, to_arrow
from .errors import TradewireError
from .venue_cli import add_venue, venue_market
from .venue_cli import connector as venue_connector


def add_parser(commands: Any) -> None:
    history = commands.add_parser(
        "history",
        help="write a symbol's candles, fundings, trades, own fills or orders over a range to CSV or Parquet",
        description="Walks the venue's history page by page (within its paging rules and rate limits, "
        "retrying refused pages) and writes every row of --kind from --start to --end to --out: "
        "CSV, or Parquet for a .parquet path (pip install 'tradewire[data]'). my_trades and orders "
        "are the account's: API keys come from TRADEWIRE_API_KEY and TRADEWIRE_API_SECRET. --sim "
        "reads the embedded simulator (and its account) instead of the venue.",
    )
    add_venue(history, "read the embedded simulator (no network)")
    history.add_argument("--symbol", required=True, help="BTCUSDT, BTC/USDT or BTC/USDT:USDT")
    history.add_argument("--kind", choices=KINDS, default="klines", help="what to read (default klines)")
    history.add_argument("--interval", default="1m", help="candle interval (1s .. 1M; default 1m)")
    history.add_argument(
        "--start", required=True, type=_time, help="ISO date/time (UTC if no zone) or Unix ms"
    )
    history.add_argument("--end", type=_time, default=None, help="ISO date/time or Unix ms (default: now)")
    history.add_argument("--out", required=True, type=Path, help="the file to write (.csv or .parquet)")
    history.add_argument("--quiet", action="store_true", help="no progress bar")


#: What each kind reads: its rows' type.
ROWS: dict[str, type] = {
    "klines": _native.Kline,
    "funding": _native.FundingRate,
    "agg_trades": _native.AggTrade,
    "my_trades": _native.Fill,
    "orders": _native.Order,
}
KINDS = tuple(ROWS)


def run(args: argparse.Namespace) -> int:
    named = venue_market(args, "history")
    if named is None:
        return 2
    venue, market = named
    try:
        items = asyncio.run(_walk(args, venue, market))
    except (TradewireError, OSError, ImportError) as e:
        print(f"tradewire history: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if not args.quiet:
        print(f"{items} rows written to {args.out}", file=sys.stderr)
    return 0


async def _walk(args: argparse.Namespace, venue: str, market: str) -> int:
    from contextlib import ExitStack

    with ExitStack() as stack:
        keyed = args.kind in ("my_trades", "orders")
        connector = venue_connector(stack, venue, market, sim=args.sim, keyed=keyed)
        async with connector:
            bar = stack.enter_context(_Bar(args.quiet or not sys.stderr.isatty()))
            if args.kind == "klines":
                walk: Any = connector.history.klines(
                    args.symbol, args.interval, start=args.start, end=args.end, progress=bar.update
                )
            else:
                read = {
                    "funding": connector.history.funding_rates,
                    "agg_trades": connector.history.agg_trades,
                    "my_trades": connector.history.my_trades,
                    "orders": connector.history.orders,
                }[args.kind]
                walk = read(args.symbol, start=args.start, end=args.end, progress=bar.update)
            names = COLUMNS[ROWS[args.kind]]
            parquet = args.out.suffix == ".parquet"
            writer = _ParquetWriter(args.out, names) if parquet else _CsvWriter(args.out, names)
            with writer:
                async for page in walk.pages():
                    writer.write(page)
            return int(walk.items)


class _CsvWriter:
    """Rows under a header of ``names`` (a walk with no rows leaves the header alone)."""

    def __init__(self, path: Path, names: tuple[str, ...]) -> None:
        self._file = path.open("w", newline="")
        self._csv = csv.writer(self._file)
        self._csv.writerow(names)

    def write(self, page: list[object]) -> None:
        self._csv.writerows(zip(*columns(page).values(), strict=True))

    def __enter__(self) -> _CsvWriter:
        return self

    def __exit__(self, *_: object) -> None:
        self._file.close()


class _ParquetWriter:
    """Pages as row groups; a walk with no rows writes an empty table of ``names``."""

    def __init__(self, path: Path, names: tuple[str, ...]) -> None:
        try:
            import pyarrow.parquet as pq  # type: ignore[import-untyped,unused-ignore]
        except ImportError as e:
            raise ImportError("Parquet needs pyarrow: pip install 'tradewire[data]'") from e
        self._pq = pq
        self._path = path
        self._names = names
        self._writer: Any = None

    def write(self, page: list[object]) -> None:
        table = to_arrow(page)
        if self._writer is None:
            self._writer = self._pq.ParquetWriter(self._path, table.schema)  # type: ignore[no-untyped-call,unused-ignore]
        # Pages may differ in decimal scale: cast to the first page's schema when they do.
        self._writer.write_table(
            table.cast(self._writer.schema) if table.schema != self._writer.schema else table
        )

    def __enter__(self) -> _ParquetWriter:
        return self

    def __exit__(self, *_: object) -> None:
        if self._writer is not None:
            self._writer.close()
        else:
            import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

            empty = pa.table({name: pa.array([], pa.null()) for name in self._names})
            self._pq.write_table(empty, self._path)  # type: ignore[no-untyped-call,unused-ignore]


class _Bar:
    """A rich progress bar over the walked time (nothing when quiet)."""

    def __init__(self, quiet: bool) -> None:
        self._quiet = quiet
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if not self._quiet:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("history"),
                BarColumn(),
                TextColumn("{task.fields[items]} rows"),
                TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("walk", total=1, items=0)
        return self

    def update(self, done: int, total: int, items: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=done, total=total, items=items)

    def __exit__(self, *_: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _time(text: str) -> int:
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time or Unix ms: {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)

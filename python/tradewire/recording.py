"""Recording what the venues send (``tw.Recorder``) and reading it back (``tw.read_recording``).

A recording is a directory of zstd-compressed JSON-lines segments (``000001.jsonl.zst``, ...),
an ``index.jsonl`` of closed segments with their time ranges, and ``meta.json``; each line is
one message exactly as received with its receive time in ns and its connection. Segments are
written a frame a second: a crash or ``kill -9`` loses at most the last second, and a torn tail
is skipped on reading without touching anything before it. docs/recording.md has the format.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self

from . import _native
from .endpoints import Endpoints
from .errors import InvalidArgument

if TYPE_CHECKING:
    from .connectors import _Connector

Channel = Literal["trades", "book", "tickers"]
CHANNELS: tuple[Channel, ...] = ("trades", "book", "tickers")


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded message."""

    #: Receive time, Unix ns.
    at_ns: int
    #: The connection it came on (``<url>#<shard>.<connection>``), or ``rest``.
    conn: str
    #: ``ws`` (a market-stream frame), ``rest`` (a public REST answer) or ``lost`` (``text``
    #: messages the recorder could not keep).
    kind: Literal["ws", "rest", "lost"]
    #: A REST answer's path and query.
    path: str
    #: The text exactly as received.
    text: str


class Recorder:
    """Records what ``connector`` receives for ``symbols`` on ``channels`` into ``directory``:
    every market-stream frame as received and every public REST answer the connector reads
    (book snapshots, the symbol listing), until closed::

        async with tw.Binance("spot") as bn, tw.Recorder(bn, "rec/", symbols=["BTCUSDT"]) as rec:
            await asyncio.sleep(3600)
            print(rec.stats)

    The recorder subscribes the channels itself (``book`` keeps a live book of ``depth``);
    streams the caller opens on the same connector are recorded too. Segments rotate at
    ``rotate_mb`` compressed MiB or ``rotate_minutes``; memory is bounded (a full queue counts
    messages as lost and marks where, never waits)."""

    def __init__(
        self,
        connector: _Connector,
        directory: str | Path,
        *,
        symbols: Sequence[str],
        channels: Sequence[Channel] = CHANNELS,
        depth: int = 50,
        rotate_mb: float = 64,
        rotate_minutes: float = 60,
    ) -> None:
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown or not channels:
            raise InvalidArgument(
                f"channels: {unknown or 'none'}; choose from {', '.join(CHANNELS)}", field="channels"
            )
        if not symbols:
            raise InvalidArgument("name at least one symbol", field="symbols")
        if rotate_mb <= 0 or rotate_minutes <= 0:
            raise InvalidArgument("rotate_mb and rotate_minutes must be positive", field="rotate_mb")
        self._connector = connector
        self.directory = Path(directory)
        self._symbols = list(symbols)
        self._channels = list(channels)
        self._depth = depth
        self._rotate = (int(rotate_mb * (1 << 20)), rotate_minutes * 60)
        self._native: _native.NativeRecorder | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._streams: list[Any] = []
        self._books: list[Any] = []
        self._final: dict[str, Any] | None = None

    @property
    def stats(self) -> dict[str, Any]:
        """``entries``, ``raw_bytes``, ``bytes`` (on disk), ``files``, ``lost``, ``error``."""
        if self._native is not None:
            return self._native.stats()
        if self._final is not None:
            return self._final
        return {"entries": 0, "raw_bytes": 0, "bytes": 0, "files": 0, "lost": 0, "error": None}

    async def start(self) -> None:
        """Starts recording (once: ``async with`` after ``start()`` goes on with it)."""
        if self._native is not None:
            return
        native = self._connector.native
        self._native = _native.NativeRecorder(
            native, str(self.directory), self._symbols, list(self._channels), *self._rotate
        )
        try:
            await self._native.record_listing()
            if "trades" in self._channels:
                self._drain(self._connector.trades(*self._symbols))
            if "tickers" in self._channels:
                self._drain(self._connector.tickers(*self._symbols))
            if "book" in self._channels:
                for symbol in self._symbols:
                    self._books.append(await self._connector.book(symbol, depth=self._depth))
        except BaseException:
            await self.close()
            raise

    def _drain(self, stream: Any) -> None:
        async def drain() -> None:
            with contextlib.suppress(Exception):
                async for _ in stream:
                    pass

        self._streams.append(stream)
        self._tasks.append(asyncio.create_task(drain()))

    async def close(self) -> dict[str, Any]:
        """Stops the subscriptions it opened, writes what is queued, closes the files; the
        final stats."""
        for book in self._books:
            book.close()
        for stream in self._streams:
            stream.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._books, self._tasks, self._streams = [], [], []
        if self._native is None:
            return self.stats
        native, self._native = self._native, None
        self._final = await asyncio.to_thread(native.close)
        return self._final

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class RecordingReader:
    """A recording opened for reading: ``meta``, ``segments``, and its entries by iteration
    (oldest first per segment, within ``start_ns..end_ns``); ``damage`` says where reading
    stopped short (a torn tail after a kill)."""

    def __init__(
        self, directory: str | Path, *, start_ns: int | None = None, end_ns: int | None = None
    ) -> None:
        self._native = _native.NativeRecording(str(directory), start_ns, end_ns)
        self.meta: dict[str, Any] = self._native.meta()
        self.segments = self._native.segments()

    def __iter__(self) -> Iterator[Entry]:
        while batch := self._native.next_batch(4096):
            for at_ns, conn, kind, path, text in batch:
                yield Entry(at_ns, conn, kind, path, text)  # type: ignore[arg-type]

    @property
    def damage(self) -> list[tuple[str, int, str]]:
        """``(file, offset, reason)`` of each frame that could not be read so far."""
        return self._native.damage()


def read_recording(
    directory: str | Path, *, start_ns: int | None = None, end_ns: int | None = None
) -> RecordingReader:
    """Opens a recording for reading (see :class:`RecordingReader`)."""
    return RecordingReader(directory, start_ns=start_ns, end_ns=end_ns)


class Replay:
    """A recording served again, on loopback, on its venue's own wire protocol, read through a
    connector: ``async with tw.Replay("rec/", speed=None) as bn`` gives a
    :class:`~tradewire.Binance` or :class:`~tradewire.Bybit` whose market data (``symbol_info``,
    ``trades``, ``tickers``, ``book``, ``book_updates``, ...) is the recording's, parsed,
    sequence-checked and synced by the same code as live data.

    ``speed`` 1.0 keeps the recorded pace (2.0 twice as fast); ``None`` plays as fast as the
    connector reads. ``start``/``end`` (Unix ns) select a receive-time range. Frames recorded
    after a book snapshot wait until the connector has read that snapshot, so the same recording
    always rebuilds the same book states. Streams not in the recording stay silent; REST paths
    not in it answer an error."""

    def __init__(
        self,
        directory: str | Path,
        *,
        speed: float | None = 1.0,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> None:
        if speed is not None and not speed > 0:
            raise InvalidArgument("speed must be positive, or None for as fast as possible", field="speed")
        self.directory = Path(directory)
        self._speed = speed
        self._range = (start_ns, end_ns)
        self._native: _native.NativeReplay | None = None
        self._connector: _Connector | None = None

    def serve(self) -> Endpoints:
        """Starts serving (if not yet) and says where, for any client."""
        if self._native is None:
            self._native = _native.NativeReplay(str(self.directory), self._speed, *self._range)
        return replay_endpoints(self._native)

    @property
    def venue(self) -> str:
        self.serve()
        assert self._native is not None
        return self._native.venue

    @property
    def market(self) -> str:
        self.serve()
        assert self._native is not None
        return self._native.market

    async def __aenter__(self) -> Any:
        from .connectors import Binance, Bybit

        endpoints = self.serve()
        connector: _Connector = (
            Binance(self.market, endpoints=endpoints)  # type: ignore[arg-type]
            if self.venue == "binance"
            else Bybit(self.market, endpoints=endpoints)  # type: ignore[arg-type]
        )
        try:
            await connector.__aenter__()
        except BaseException:
            self.close()
            raise
        self._connector = connector
        return connector

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connector is not None:
            await self._connector.__aexit__(exc_type, exc, tb)
            self._connector = None
        self.close()

    def close(self) -> None:
        if self._native is not None:
            self._native.close()
            self._native = None


def replay_endpoints(native: _native.NativeReplay) -> Endpoints:
    """Where a served recording is, as its venue's clients expect the hosts."""
    rest, ws = native.rest, native.ws
    if native.venue == "binance":
        if native.market == "spot":
            return Endpoints(rest=rest, ws_public=ws)
        return Endpoints(rest=rest, ws_public=f"{ws}/public", ws_market=f"{ws}/market")
    return Endpoints(rest=rest, ws_public=f"{ws}/v5/public/{native.market}")


__all__ = ["CHANNELS", "Channel", "Entry", "Recorder", "RecordingReader", "Replay", "read_recording"]

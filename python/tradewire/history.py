"""History over arbitrary time ranges (``connector.history``): async iterators that walk the
venue's pages in Rust (time windows, per-request limits, ids and cursors, Bybit's newest-first
answers) within the rate limits, retrying a refused or lost page with backoff.

A walk is resumable: ``walk.cursor_ms`` is where it goes on, so a new walk from there (after a
crash, say) continues without a gap or a repeat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Generic, TypeVar

from . import _native
from ._native import AggTrade, Fill, FundingRate, Kline, Order
from .enums import IntervalName

if TYPE_CHECKING:
    from .connectors import _Connector

T = TypeVar("T", Kline, FundingRate, AggTrade, Fill, Order)
#: Called after each page: ``(done_ms, total_ms, items)``, the time walked, the whole range and
#: the events read so far.
Progress = Callable[[int, int, int], None]


class HistoryWalk(Generic[T]):
    """The events of one walk, oldest first: ``async for`` them, or ``pages()`` for lists."""

    def __init__(self, native: _native.NativeHistory, progress: Progress | None) -> None:
        self._native = native
        self._progress = progress
        self._buffer: list[T] = []
        self.items = 0

    @property
    def cursor_ms(self) -> int:
        """Where the walk goes on from (Unix ms): a new walk from here resumes it."""
        return self._native.cursor_ms

    @property
    def start_ms(self) -> int:
        return self._native.start_ms

    @property
    def end_ms(self) -> int:
        return self._native.end_ms

    async def next_page(self) -> list[T] | None:
        """The next page of events, or None once the range is read."""
        page: list[T] | None = await self._native.next_page()
        if page is not None:
            self.items += len(page)
        if self._progress is not None:
            total = max(self.end_ms - self.start_ms, 1)
            done = total if page is None else min(self.cursor_ms - self.start_ms, total)
            self._progress(done, total, self.items)
        return page

    async def pages(self) -> AsyncIterator[list[T]]:
        while (page := await self.next_page()) is not None:
            yield page

    def __aiter__(self) -> HistoryWalk[T]:
        return self

    async def __anext__(self) -> T:
        while not self._buffer:
            page = await self.next_page()
            if page is None:
                raise StopAsyncIteration
            self._buffer = page[::-1]
        return self._buffer.pop()


class History:
    """``connector.history``: walks through a symbol's history. Each walk asks ``page_size``
    items a request, the venue's most if None (fewer: smaller pages, more requests)."""

    def __init__(self, connector: _Connector) -> None:
        self._connector = connector

    def klines(
        self,
        symbol: str,
        interval: IntervalName,
        *,
        start: int | datetime,
        end: int | datetime | None = None,
        progress: Progress | None = None,
        page_size: int | None = None,
    ) -> HistoryWalk[Kline]:
        """Every candle of ``symbol`` opening from ``start`` to ``end`` (now if None), oldest
        first, in pages of the venue's most (Binance spot 1000, USD-M 1500, Bybit 1000)."""
        from .connectors import _epoch_ms

        native = self._connector.native.history(
            symbol,
            "klines",
            _ms("start", start),
            _epoch_ms("end", end),
            interval=interval,
            page_size=page_size,
        )
        return HistoryWalk(native, progress)

    def funding_rates(
        self,
        symbol: str,
        *,
        start: int | datetime,
        end: int | datetime | None = None,
        progress: Progress | None = None,
        page_size: int | None = None,
    ) -> HistoryWalk[FundingRate]:
        """Every funding of a derivative from ``start`` to ``end`` (now if None), oldest first."""
        return HistoryWalk(self._walk(symbol, "funding", start, end, page_size), progress)

    def agg_trades(
        self,
        symbol: str,
        *,
        start: int | datetime,
        end: int | datetime | None = None,
        progress: Progress | None = None,
        page_size: int | None = None,
    ) -> HistoryWalk[AggTrade]:
        """Every aggregated trade (Binance) from ``start`` to ``end`` (now if None), oldest first:
        1000 a page, USD-M asked an hour at a time, a busy millisecond gone on by id."""
        return HistoryWalk(self._walk(symbol, "agg_trades", start, end, page_size), progress)

    def my_trades(
        self,
        symbol: str,
        *,
        start: int | datetime,
        end: int | datetime | None = None,
        progress: Progress | None = None,
        page_size: int | None = None,
    ) -> HistoryWalk[Fill]:
        """The account's own fills of ``symbol`` from ``start`` to ``end`` (now if None), oldest
        first (needs API keys): Binance spot asked 24 hours at a time, USD-M and Bybit 7 days.
        Binance's trade list names no client order id: those fills carry an empty one."""
        return HistoryWalk(self._walk(symbol, "my_trades", start, end, page_size), progress)

    def orders(
        self,
        symbol: str,
        *,
        start: int | datetime,
        end: int | datetime | None = None,
        progress: Progress | None = None,
        page_size: int | None = None,
    ) -> HistoryWalk[Order]:
        """The account's orders of ``symbol`` created from ``start`` to ``end`` (now if None),
        oldest first, each as last known (needs API keys). What the venue keeps is its own rule:
        Binance USD-M forgets canceled orders without fills after 3 days, Bybit after 24 hours
        (and any order without fills after 7 days)."""
        return HistoryWalk(self._walk(symbol, "orders", start, end, page_size), progress)

    def _walk(
        self, symbol: str, kind: str, start: int | datetime, end: int | datetime | None, page_size: int | None
    ) -> _native.NativeHistory:
        from .connectors import _epoch_ms

        return self._connector.native.history(
            symbol, kind, _ms("start", start), _epoch_ms("end", end), page_size=page_size
        )


def _ms(name: str, value: int | datetime) -> int:
    from .connectors import _epoch_ms

    ms = _epoch_ms(name, value)
    assert ms is not None
    return ms


__all__ = ["History", "HistoryWalk", "Progress"]

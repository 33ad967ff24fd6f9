"""Books of one instrument across venues, merged (CRSX-01..03).

Instruments are named canonically: ``BASE/QUOTE`` for spot, ``BASE/QUOTE:SETTLE`` for linear
perpetuals (``BTC/USDT:USDT``), so the same instrument type merges by default; spot with
perpetuals only through ``mapping``. Venues are named by label: ``binance-spot``,
``binance-usdm``, ``bybit-spot``, ``bybit-linear``.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self, cast

from . import _native
from ._native import Bbo, Gap, Level, MergedBook, Quote
from .connectors import Binance, Bybit, _millis
from .errors import InvalidArgument
from .streams import Stream


class AggregatorEventKind(enum.StrEnum):
    """What an :class:`AggregatorEvent` tells; its ``fields`` (text) are listed with each."""

    #: One venue's bid at or above another's ask: ``bid_venue``, ``bid``, ``ask_venue``, ``ask``.
    CROSSED = "crossed"
    UNCROSSED = "uncrossed"
    #: A venue left the merged book: ``venue``, ``reason`` (out of sync, stale or closed).
    EXCLUDED = "excluded"
    #: ``venue``: back in.
    INCLUDED = "included"


@dataclass(frozen=True, slots=True)
class AggregatorEvent:
    """``kind`` of event on merged book ``symbol``, with its ``fields`` (see
    :class:`AggregatorEventKind`)."""

    kind: AggregatorEventKind
    symbol: str
    fields: Mapping[str, str]


class Aggregator:
    """Merged books over started connectors (one per venue and market).

    ``await agg.book("BTC/USDT")`` opens a merged book: each venue's book is followed in Rust
    and every change applied to the merged book as it happens, so reads are always the union of
    the venue books that count. A venue whose book is out of sync, or has not changed for
    ``stale_after`` seconds (None: never stale), is left out until it is back; reads say which
    and why. ``depth`` is the levels a side each venue book keeps. ``mapping`` names, for an
    instrument, exactly which symbol each connector contributes, e.g.
    ``{"BTC/USDT": {"binance-spot": "BTCUSDT", "bybit-linear": "BTCUSDT"}}``."""

    def __init__(
        self,
        connectors: Sequence[Binance | Bybit],
        *,
        mapping: Mapping[str, Mapping[str, str]] | None = None,
        depth: int = 200,
        stale_after: float | None = 5.0,
        sync_timeout: float = 30.0,
    ) -> None:
        self.connectors = tuple(connectors)
        self._native = _native.NativeAggregator(
            [c.native for c in self.connectors],
            mapping={name: dict(parts) for name, parts in (mapping or {}).items()},
            depth=depth,
            stale_after_ms=None if stale_after is None else _millis("stale_after", stale_after),
            timeout_ms=_millis("sync_timeout", sync_timeout),
        )

    def close(self) -> None:
        """Stops following every merged book's venue books (their subscriptions end unless
        something else reads them); open merged books then show every venue excluded."""
        self._native.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        labels = ", ".join(f"{c._venue.value}-{c.market}" for c in self.connectors)
        return f"Aggregator([{labels}])"

    async def book(self, symbol: str) -> MergedBook:
        """The merged book of ``symbol`` (opened on first use), once every venue's book is in
        sync, or after ``sync_timeout`` with at least one in sync (:class:`Timeout` if none).
        Unknown names raise :class:`InvalidArgument`."""
        return await self._native.book(symbol)

    def bbo(self, symbol: str) -> Bbo:
        """The best bid and ask across the included venues of an opened merged book."""
        return self._native.bbo(symbol)

    def best_bid(self, symbol: str) -> Quote | None:
        """The highest bid across venues: price, quantity there, and the venue (holding the
        largest part of it); None if no included venue has a bid."""
        return self._native.bbo(symbol).bid

    def best_ask(self, symbol: str) -> Quote | None:
        """The lowest ask across venues, as :meth:`best_bid`."""
        return self._native.bbo(symbol).ask

    def connector(self, venue: str | Quote) -> Binance | Bybit:
        """The connector behind a venue label (``binance-spot``) or a :class:`Quote`'s venue,
        to act on what a merged quote shows; :class:`InvalidArgument` if none is aggregated."""
        label = venue.venue if isinstance(venue, Quote) else venue
        for connector in self.connectors:
            if connector.label == label:
                return connector
        known = ", ".join(c.label for c in self.connectors)
        raise InvalidArgument(f"no connector {label!r} here (these are: {known})", field="venue")

    async def venue_bbo(self, symbol: str) -> dict[str, tuple[Level | None, Level | None]]:
        """Each included venue's own best bid and ask in the merged book of ``symbol``, by label;
        a venue left out of it is absent."""
        view = (await self.book(symbol)).snapshot()
        best: dict[str, tuple[Level | None, Level | None]] = {}
        for side, levels in ((0, view.bids), (1, view.asks)):
            for level in levels:
                for label, qty in level.venues.items():
                    bid, ask = best.get(label, (None, None))
                    if side == 0 and bid is None:
                        best[label] = (Level(level.price, qty), ask)
                    elif side == 1 and ask is None:
                        best[label] = (bid, Level(level.price, qty))
        return best

    def bbo_updates(self, symbol: str) -> Stream[Bbo]:
        """The cross-venue best bid and ask of an opened merged book whenever either changes
        (price, quantity, venue, or a venue leaving or rejoining); conflated, so a slow reader
        sees the latest. The current one comes first."""
        return Stream(self._native.bbo_updates(symbol))

    def events(self, capacity: int = 4096) -> AsyncIterator[AggregatorEvent | Gap]:
        """Crossed markets between venues and venues leaving or rejoining merged books, from
        this call on; a reader that falls ``capacity`` behind gets a :class:`Gap`."""
        return _events(Stream(self._native.events(capacity)))


async def _events(stream: Stream[object]) -> AsyncIterator[AggregatorEvent | Gap]:
    async with stream:
        async for item in stream:
            if isinstance(item, Gap):
                yield item
            else:
                kind, symbol, fields = cast(tuple[str, str, Mapping[str, str]], item)
                yield AggregatorEvent(AggregatorEventKind(kind), symbol, dict(fields))


__all__ = ["Aggregator", "AggregatorEvent", "AggregatorEventKind"]

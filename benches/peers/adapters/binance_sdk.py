"""binance-sdk-spot: ``websocket_streams`` trades and diffs, typed (its models) and raw (dicts);
it keeps no book, so the consumer keeps a sorted book (``sortedcontainers.SortedDict`` by
Decimal price) from the diffs and a REST snapshot."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from ..common import SYMBOL, Levels, load
from .base import Adapter


class DictBook:
    """A minimal Binance spot book for consumers whose library keeps none (the venue's recipe:
    buffer diffs, load a REST snapshot, drop ``u <= lastUpdateId``, then chain ``U = u + 1``),
    sorted so that the best levels are at hand."""

    def __init__(self) -> None:
        self.sorted = load("sortedcontainers").SortedDict
        self.bids: Any = self.sorted()
        self.asks: Any = self.sorted()
        self.last: int | None = None
        self.buffered: list[tuple[int, int, list[list[str]], list[list[str]]]] = []
        self.broken = False

    def load(self, last: int, bids: list[list[str]], asks: list[list[str]]) -> None:
        self.bids = self.sorted({Decimal(p): q for p, q in bids})
        self.asks = self.sorted({Decimal(p): q for p, q in asks})
        self.last = last
        for diff in self.buffered:
            self.apply(*diff)
        self.buffered = []

    def apply(self, first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> bool:
        if self.last is None:
            self.buffered.append((first, last, bids, asks))
            return False
        if last <= self.last:
            return False
        if first > self.last + 1:
            self.broken = True  # a gap: a real consumer would resync here
        for side, changes in ((self.bids, bids), (self.asks, asks)):
            for price, qty in changes:
                if Decimal(qty) == 0:
                    side.pop(Decimal(price), None)
                else:
                    side[Decimal(price)] = qty
        self.last = last
        return True


class BinanceSdk(Adapter):
    #: The SDK's typed path: each payload is parsed, dumped again and validated into a pydantic
    #: model before the callback (``websocket_streams.trade`` / ``diff_book_depth``).
    raw = False

    async def listen(self, stream: str, callback: Any, typed: Any) -> None:
        if self.raw:
            # No response model: the callback gets the combined stream's envelope as the SDK
            # parsed it, once.
            await self.connection.subscribe([stream])
            self.connection.on("message", callback, stream)
        else:
            handle = await typed(self.connection)
            handle.on("message", callback)

    async def run(self) -> None:
        configuration = load("binance_common.configuration")
        spot = load("binance_sdk_spot.spot")
        self.client = spot.Spot(
            config_rest_api=configuration.ConfigurationRestAPI(base_path=self.ep["rest"]),
            config_ws_streams=configuration.ConfigurationWebSocketStreams(stream_url=self.ep["ws_public"]),
        )
        self.connection = await self.client.websocket_streams.create_connection()
        hit = self.rec.hit
        stream = f"{SYMBOL.lower()}@trade" if self.scenario == "trades" else f"{SYMBOL.lower()}@depth@100ms"
        if self.scenario == "trades":
            if self.raw:

                def on_trade(data: Any) -> None:
                    data = data["data"]  # the envelope
                    hit(data["t"])
                    _ = Decimal(data["p"]), Decimal(data["q"])

            else:

                def on_trade(data: Any) -> None:
                    hit(data.t)
                    _ = Decimal(data.p), Decimal(data.q)

            await self.listen(stream, on_trade, lambda c: c.trade(symbol=SYMBOL))
        else:
            self.dict_book = book = DictBook()
            if self.raw:

                def on_diff(data: Any) -> None:
                    data = data["data"]  # the envelope
                    if book.apply(data["U"], data["u"], data["b"], data["a"]):
                        hit(data["u"])
                        _ = book.bids.peekitem(-1), book.asks.peekitem(0)

            else:

                def on_diff(data: Any) -> None:
                    if book.apply(data.U, data.u, data.b, data.a):
                        hit(data.u)
                        _ = book.bids.peekitem(-1), book.asks.peekitem(0)

            await self.listen(
                stream, on_diff, lambda c: c.diff_book_depth(symbol=SYMBOL, update_speed="100ms")
            )
            rest = self.client.rest_api
            snapshot = (await asyncio.to_thread(rest.depth, symbol=SYMBOL, limit=1000)).data()
            book.load(snapshot.last_update_id, snapshot.bids, snapshot.asks)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        b = self.dict_book
        if b.broken:
            return [], []
        return [(str(p), q) for p, q in b.bids.items()], [(str(p), q) for p, q in b.asks.items()]

    async def close(self) -> None:
        await self.connection.close_connection(close_session=True)


class BinanceSdkRaw(BinanceSdk):
    """The SDK's untyped path: ``subscribe(streams)`` without a response model."""

    raw = True

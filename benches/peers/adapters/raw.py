"""Baselines, not peers: the least a Python reader can do with the same stream, to show what this
machine allows. No library: a WebSocket client (``websockets``, or ``picows`` with its Cython
frame parser), ``orjson``, and for books a plain dict book kept by the venue's recipe (buffer
the diffs, one REST snapshot, chain ``U``/``u``). The consumer reads each trade's id and its
price and quantity as Decimals; the book is not sorted (no best level is read), so the row is
an upper bound."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from decimal import Decimal
from typing import Any

from ..common import SYMBOL, Levels, load
from .base import Adapter


class RawBook:
    """Binance spot's diff-over-snapshot recipe on two dicts (exact text prices)."""

    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.last: int | None = None
        self.buffered: list[dict[str, Any]] = []
        self.broken = False

    def load(self, snapshot: dict[str, Any]) -> None:
        self.bids = dict(snapshot["bids"])
        self.asks = dict(snapshot["asks"])
        self.last = snapshot["lastUpdateId"]
        for diff in self.buffered:
            self.apply(diff)
        self.buffered = []

    def apply(self, diff: dict[str, Any]) -> bool:
        if self.last is None:
            self.buffered.append(diff)
            return False
        if diff["u"] <= self.last:
            return False
        if diff["U"] > self.last + 1:
            self.broken = True
        for side, changes in ((self.bids, diff["b"]), (self.asks, diff["a"])):
            for price, qty in changes:
                if float(qty) == 0:  # a zero test only: the stored values stay exact text
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.last = diff["u"]
        return True


class _Raw(Adapter):
    """Shared by both clients: the stream's URL, the message handler, the REST snapshot."""

    def setup(self) -> tuple[str, Any]:
        orjson = load("orjson")
        loads, hit = orjson.loads, self.rec.hit
        if self.scenario == "trades":
            url = f"{self.ep['ws_public']}/ws/{SYMBOL.lower()}@trade"

            def on_message(raw: bytes) -> None:
                m = loads(raw)
                hit(m["t"])
                _ = Decimal(m["p"]), Decimal(m["q"])

            return url, on_message
        url = f"{self.ep['ws_public']}/ws/{SYMBOL.lower()}@depth@100ms"
        self.raw_book = book = RawBook()

        def on_diff(raw: bytes) -> None:
            diff = loads(raw)
            if book.apply(diff):
                hit(diff["u"])

        return url, on_diff

    async def snapshot(self) -> None:
        url = f"{self.ep['rest']}/api/v3/depth?symbol={SYMBOL}&limit=1000"

        def fetch() -> dict[str, Any]:
            with urllib.request.urlopen(url, timeout=10) as answer:
                loaded: dict[str, Any] = json.load(answer)
                return loaded

        self.raw_book.load(await asyncio.to_thread(fetch))

    def book(self) -> tuple[Levels, Levels] | None:
        b = self.raw_book
        if b.broken:
            return [], []
        return list(b.bids.items()), list(b.asks.items())


class RawWebsockets(_Raw):
    async def run(self) -> None:
        connect = load("websockets.asyncio.client").connect
        url, on_message = self.setup()
        async with connect(url, max_size=None, compression=None) as ws:
            # Subscribed: the snapshot is taken while the first diffs are buffered.
            snapshot = asyncio.create_task(self.snapshot()) if self.scenario == "book" else None
            async for raw in ws:
                on_message(raw)
            if snapshot is not None:
                await snapshot


class RawPicows(_Raw):
    async def run(self) -> None:
        picows = load("picows")
        url, on_message = self.setup()
        text, listener = picows.WSMsgType.TEXT, picows.WSListener

        class Listener(listener):  # type: ignore[misc,valid-type]
            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == text:
                    on_message(frame.get_payload_as_bytes())

        transport, _ = await picows.ws_connect(Listener, url, max_frame_size=1 << 30)
        self.transport = transport
        if self.scenario == "book":
            await self.snapshot()
        await transport.wait_disconnected()

    async def close(self) -> None:
        self.transport.disconnect()

"""cryptofeed: ``TRADES`` (aggTrade) and ``L2_BOOK`` callbacks, on uvloop (its default).

cryptofeed refuses any WebSocket address but ``wss://``; the simulator serves ``ws://``. The shim:
the feed is given the ``wss://`` spelling of the simulator's address, and the module's
``connect`` (websockets') is wrapped to open the ``ws://`` one. Nothing else of the library is
touched: no TLS terminator (an extra hop and a thread on the same two cores)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ..common import Levels, load
from .base import Adapter, levels_of


class Cryptofeed(Adapter):
    async def run(self) -> None:
        cf = load("cryptofeed")
        connection = load("cryptofeed.connection")
        defines = load("cryptofeed.defines")
        binance = load("cryptofeed.exchanges").Binance
        # Allowed knobs: the feed class's endpoint constants, and the shim above.
        plain_connect = connection.connect

        def connect(address: str, **kwargs: Any) -> Any:
            return plain_connect("ws://" + address.removeprefix("wss://"), **kwargs)

        connection.connect = connect
        wss = "wss://" + self.ep["ws_public"].removeprefix("ws://")
        binance.websocket_endpoints = [connection.WebsocketEndpoint(wss)]
        binance.rest_endpoints = [
            connection.RestEndpoint(
                self.ep["rest"],
                routes=connection.Routes(
                    "/api/v3/exchangeInfo",
                    l2book="/api/v3/depth?symbol={}&limit={}",
                    authentication="/api/v3/userDataStream",
                ),
            )
        ]
        log = {"filename": str(Path(self.config["tmp"]) / "feedhandler.log"), "level": "WARNING"}
        self.handler = cf.FeedHandler(config={"log": log})
        hit = self.rec.hit

        async def on_trade(trade: Any, receipt: float) -> None:
            hit(int(trade.id))
            _ = trade.price, trade.amount

        async def on_book(book: Any, receipt: float) -> None:
            self.order_book = book
            hit(book.sequence_number)
            _ = book.book.bids.index(0), book.book.asks.index(0)

        channel = defines.TRADES if self.scenario == "trades" else defines.L2_BOOK
        callback = on_trade if self.scenario == "trades" else on_book
        self.handler.add_feed(
            binance(symbols=["BTC-USDT"], channels=[channel], callbacks={channel: callback})
        )
        self.handler.run(start_loop=False, install_signal_handlers=False)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        sides = self.order_book.book
        return levels_of(sides.bids.to_dict().items()), levels_of(sides.asks.to_dict().items())

    async def close(self) -> None:
        await self.handler.stop_async()

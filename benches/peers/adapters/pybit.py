"""pybit: ``WebSocket.trade_stream`` and ``WebSocket.orderbook_stream`` (its own book)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from ..common import BYBIT_SPOT_TRADE_ID_BASE, SYMBOL, Levels, load
from .base import Adapter, levels_of


class Pybit(Adapter):
    async def run(self) -> None:
        unified = load("pybit.unified_trading")
        # Allowed knob: pybit's module URL constant.
        unified.PUBLIC_WSS = self.ep["ws_public"].rsplit("/", 1)[0] + "/{CHANNEL_TYPE}"
        self.ws = await asyncio.to_thread(unified.WebSocket, testnet=False, channel_type="spot")
        hit = self.rec.hit
        if self.scenario == "trades":

            def on_trades(message: dict[str, Any]) -> None:
                for trade in message["data"]:
                    hit(int(trade["i"]) - BYBIT_SPOT_TRADE_ID_BASE)
                    _ = Decimal(trade["p"]), Decimal(trade["v"])

            await asyncio.to_thread(self.ws.trade_stream, SYMBOL, on_trades)
        else:

            def on_book(message: dict[str, Any]) -> None:
                self.latest = message["data"]
                hit(self.latest["u"])
                _ = self.latest["b"][0], self.latest["a"][0]

            await asyncio.to_thread(self.ws.orderbook_stream, 200, SYMBOL, on_book)
        await asyncio.Event().wait()

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.latest["b"]), levels_of(self.latest["a"])

    async def close(self) -> None:
        await asyncio.to_thread(self.ws.exit)

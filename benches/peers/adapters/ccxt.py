"""ccxt.pro: ``watch_trades`` and ``watch_order_book``."""

from __future__ import annotations

from ..common import Levels, load
from .base import Adapter, levels_of


class Ccxt(Adapter):
    async def run(self) -> None:
        pro = load("ccxt.pro")
        self.exchange = ex = pro.binance()
        # Allowed knobs: the URL fields, and which markets to load.
        ex.options["fetchMarkets"] = {"types": ["spot"]}
        api = ex.urls["api"]
        for key, value in list(api.items()):
            if isinstance(value, str) and value.startswith("https://"):
                api[key] = self.ep["rest"] + "/" + value.split("/", 3)[3]
        api["ws"]["spot"] = self.ep["ws_public"] + "/stream"
        await ex.load_markets()
        hit = self.rec.hit
        if self.scenario == "trades":
            while True:
                for trade in await ex.watch_trades("BTC/USDT"):
                    hit(int(trade["id"]))
        else:
            while True:
                self.order_book = await ex.watch_order_book("BTC/USDT")
                hit(self.order_book["nonce"])

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.order_book["bids"]), levels_of(self.order_book["asks"])

    async def close(self) -> None:
        await self.exchange.close()

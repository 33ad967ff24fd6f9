"""ccxt.pro: ``watch_trades`` and ``watch_order_book``."""

from __future__ import annotations

from decimal import Decimal

from ..common import Levels, load
from .base import Adapter, levels_of


class Ccxt(Adapter):
    async def run(self) -> None:
        pro = load("ccxt.pro")
        self.exchange = ex = pro.binance()
        # Allowed knobs: the URL fields, and which markets to load.
        ex.options["fetchMarkets"] = {"types": ["spot"]}
        # Its trade cache keeps 1,000 a symbol by default and drops older ones between two reads
        # of a burst: raised so that every trade reaches the consumer (losses are reported).
        ex.options["tradesLimit"] = 100_000
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
                    # Its price and amount are floats: the exact text is in the venue's message.
                    _ = Decimal(trade["info"]["p"]), Decimal(trade["info"]["q"])
        else:
            while True:
                self.order_book = await ex.watch_order_book("BTC/USDT")
                hit(self.order_book["nonce"])
                _ = self.order_book["bids"][0], self.order_book["asks"][0]

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.order_book["bids"]), levels_of(self.order_book["asks"])

    async def close(self) -> None:
        await self.exchange.close()

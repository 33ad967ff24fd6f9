"""tradewire: ``trades()``, and ``book()`` + ``book_updates()`` (Binance or Bybit spot)."""

from __future__ import annotations

from ..common import BYBIT_SPOT_TRADE_ID_BASE, SYMBOL, Levels, load
from .base import Adapter, levels_of


class Tradewire(Adapter):
    async def run(self) -> None:
        tw = load("tradewire")
        endpoints = tw.Endpoints(**self.ep)
        bybit = self.config["venue"] == "bybit"
        connector = (
            tw.Bybit("spot", endpoints=endpoints) if bybit else tw.Binance("spot", endpoints=endpoints)
        )
        self.connector = connector
        async with connector:
            if self.scenario == "trades":
                base = BYBIT_SPOT_TRADE_ID_BASE if bybit else 0
                hit, gap_type = self.rec.hit_read, tw.Gap
                # A queue as deep as python-binance's (raised to 1e6): at max rate every library
                # queues; the default 65,536 would turn the backlog into gap markers.
                async for trade in connector.trades(SYMBOL, capacity=1 << 20):
                    if isinstance(trade, gap_type):
                        self.rec.gaps += trade.missed
                        continue
                    hit(int(trade.trade_id) - base, trade.local_time_ns)
                    _ = trade.price, trade.qty
            else:
                self.order_book = await connector.book(SYMBOL, depth=200)
                hit = self.rec.hit_read
                # On Bybit a view depth picks the topic: 10 would open a second book on
                # orderbook.50 beside the orderbook.200 one.
                async for view in connector.book_updates(SYMBOL, depth=200 if bybit else 10):
                    hit(view.update_id or 0, view.local_time_ns)
                    bid, ask = view.best_bid, view.best_ask
                    _ = bid.price, bid.qty, ask.price, ask.qty

    def stats(self) -> dict[str, int] | None:
        tw = load("tradewire")
        connector = getattr(self, "connector", None)
        try:
            books = connector.health().books if connector is not None else []
        except tw.TradewireError:  # not started yet
            return None
        for b in books:
            if b.symbol == SYMBOL:
                return {"applied": b.applied, "ignored": b.ignored, "resyncs": b.resyncs}
        return None

    def book(self) -> tuple[Levels, Levels] | None:
        ob = self.order_book
        return levels_of((x.price, x.qty) for x in ob.bids()), levels_of((x.price, x.qty) for x in ob.asks())

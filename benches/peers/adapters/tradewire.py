"""tradewire: ``trades()``, and ``book()`` + ``book_updates()`` (Binance or Bybit spot), or
``book_diffs()`` into the consumer's own book (every diff into Python)."""

from __future__ import annotations

from typing import Any

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


class TradewireDiffs(Tradewire):
    """tradewire's every-diff path: ``book_diffs()`` (each sequence-checked diff, none
    conflated) into a sorted book the consumer keeps, best bid and ask read after every diff:
    the same work as the peers whose every diff reaches Python. Trades as ``tradewire``."""

    async def run(self) -> None:
        if self.scenario == "trades":
            await super().run()
            return
        tw = load("tradewire")
        sorted_dict = load("sortedcontainers").SortedDict
        connector = tw.Binance("spot", endpoints=tw.Endpoints(**self.ep))
        self.connector = connector
        self.bids: Any = sorted_dict()
        self.asks: Any = sorted_dict()
        hit = self.rec.hit_read
        async with connector:
            # As deep a queue as the trades reader's: at max rate every library queues.
            async for diff in connector.book_diffs(SYMBOL, capacity=1 << 20):
                if diff.is_reset:
                    self.bids.clear()
                    self.asks.clear()
                for side, levels in ((self.bids, diff.bids), (self.asks, diff.asks)):
                    for level in levels:
                        if level.qty:
                            side[level.price] = level.qty
                        else:
                            side.pop(level.price, None)
                if diff.is_synced and self.bids and self.asks:
                    hit(diff.update_id or 0, diff.local_time_ns)
                    _ = self.bids.peekitem(-1), self.asks.peekitem(0)

    def book(self) -> tuple[Levels, Levels] | None:
        bids = levels_of(reversed(self.bids.items()))
        return bids, levels_of(self.asks.items())

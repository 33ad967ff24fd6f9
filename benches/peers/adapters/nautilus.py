"""nautilus_trader: a ``TradingNode`` with the Binance spot data client only and an ``Actor``
subscribed to trade ticks and L2 order-book deltas (the book kept by its data engine, updated
before the actor's handler runs), on uvloop (its default, which it requires).

Allowed knobs: the data client's ``base_url_http`` / ``base_url_ws`` settings. Its data client
needs API keys even for public data (any string will do); ``testnet=True`` only spares the
signed trade-fee call that instrument loading makes first (the simulator has none), leaving
``exchangeInfo`` the one start-up request. Notes on the adapter: ``benches/peers/nautilus/``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..common import Levels, load
from .base import Adapter, levels_of


class Nautilus(Adapter):
    order_book: Any = None
    node: Any = None

    async def run(self) -> None:
        binance = load("nautilus_trader.adapters.binance")
        config = load("nautilus_trader.config")
        actor_mod = load("nautilus_trader.common.actor")
        node_mod = load("nautilus_trader.live.node")
        ids = load("nautilus_trader.model.identifiers")
        enums = load("nautilus_trader.model.enums")
        instrument = ids.InstrumentId.from_str("BTCUSDT.BINANCE")
        hit, scenario, adapter = self.rec.hit, self.scenario, self
        actor_base: Any = actor_mod.Actor

        class Consumer(actor_base):  # type: ignore[misc]
            def on_start(self) -> None:
                if scenario == "trades":
                    self.subscribe_trade_ticks(instrument)
                else:
                    self.subscribe_order_book_deltas(instrument, book_type=enums.BookType.L2_MBP)

            def on_trade_tick(self, tick: Any) -> None:
                hit(int(tick.trade_id.value))
                _ = tick.price.as_decimal(), tick.size.as_decimal()

            def on_order_book_deltas(self, deltas: Any) -> None:
                book = self.cache.order_book(instrument)
                adapter.order_book = book
                hit(deltas.sequence)
                _ = book.best_bid_price(), book.best_bid_size(), book.best_ask_price(), book.best_ask_size()

        data_client = binance.BinanceDataClientConfig(
            api_key="any",
            api_secret="any",
            account_type=binance.BinanceAccountType.SPOT,
            base_url_http=self.ep["rest"],
            base_url_ws=self.ep["ws_public"],
            testnet=True,
            update_instruments_interval_mins=None,
            instrument_provider=config.InstrumentProviderConfig(load_ids=frozenset([instrument])),
        )
        self.node = node = node_mod.TradingNode(
            config=config.TradingNodeConfig(
                trader_id=ids.TraderId("BENCH-001"),
                logging=config.LoggingConfig(log_level="WARNING"),
                data_engine=config.LiveDataEngineConfig(),
                data_clients={binance.BINANCE: data_client},
                timeout_connection=15.0,
                timeout_disconnection=2.0,
                timeout_post_stop=0.5,
            ),
            loop=asyncio.get_running_loop(),
        )
        node.trader.add_actor(Consumer(config.ActorConfig()))
        node.add_data_client_factory(binance.BINANCE, binance.BinanceLiveDataClientFactory)
        node.build()
        await node.run_async()

    def book(self) -> tuple[Levels, Levels] | None:
        book = self.order_book
        bids = [(level.price, level.size()) for level in book.bids()]
        asks = [(level.price, level.size()) for level in book.asks()]
        return levels_of(bids), levels_of(asks)

    async def close(self) -> None:
        await self.node.stop_async()

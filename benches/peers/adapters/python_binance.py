"""python-binance: ``BinanceSocketManager.trade_socket`` and ``DepthCacheManager``."""

from __future__ import annotations

from decimal import Decimal

from ..common import PYTHON_BINANCE_QUEUE, SYMBOL, Levels, load
from .base import Adapter, levels_of


class PythonBinance(Adapter):
    async def run(self) -> None:
        binance = load("binance")
        # Allowed knobs: the client classes' URL constants.
        binance.AsyncClient.API_URL = self.ep["rest"] + "/api"
        binance.BinanceSocketManager.STREAM_URL = self.ep["ws_public"] + "/"
        self.client = await binance.AsyncClient.create()
        # Its read loop queues messages for the consumer and stops for good (queue overflow) once
        # 100 wait (the default), which a diff burst does at once: a documented knob raises it.
        manager = binance.BinanceSocketManager(self.client, max_queue_size=PYTHON_BINANCE_QUEUE)
        hit = self.rec.hit
        if self.scenario == "trades":
            async with manager.trade_socket(SYMBOL) as socket:
                while True:
                    message = await socket.recv()
                    if message.get("e") == "error":
                        raise RuntimeError(f"python-binance: {message}")
                    hit(message["t"])
                    _ = Decimal(message["p"]), Decimal(message["q"])
        else:
            dcm = binance.DepthCacheManager(self.client, SYMBOL, limit=1000, ws_interval=100, bm=manager)
            async with dcm as cache:
                while True:
                    depth = await cache.recv()
                    if isinstance(depth, dict):  # its read loop died and says why
                        raise RuntimeError(f"python-binance: {depth}")
                    self.depth = depth
                    hit(cache._last_update_id)  # read only: the id it applied last
                    _ = depth.get_bids()[0], depth.get_asks()[0]  # its API: sorted sides

    def book(self) -> tuple[Levels, Levels] | None:
        return levels_of(self.depth.get_bids()), levels_of(self.depth.get_asks())

    async def close(self) -> None:
        await self.client.close_connection()

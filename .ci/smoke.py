"""Smoke test of an installed wheel, run from outside the source tree: the embedded simulator,
a synced book, and an order placed, seen and canceled. Exits non-zero on any failure."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

import tradewire as tw
from tradewire.testing import Simulator


async def main() -> None:
    assert "site-packages" in (tw.__file__ or ""), f"not the installed wheel: {tw.__file__}"
    with Simulator(seed=5) as sim:
        keys = sim.account("binance")
        async with tw.Binance(
            "spot",
            endpoints=sim.endpoints("binance", "spot"),
            api_key=keys.api_key,
            api_secret=keys.api_secret,
        ) as c:
            with await c.book("BTCUSDT", depth=10) as book:
                bid, ask = book.best_bid(), book.best_ask()
                assert book.is_synced and bid is not None and ask is not None and bid.price < ask.price
            info = await c.symbol_info("BTCUSDT")
            price = bid.price - 50 * info.tick_size
            qty = max(info.min_qty, info.step_size * 100)
            while info.min_notional is not None and qty * price < info.min_notional:
                qty += info.step_size * 100
            order = await c.place_limit("BTCUSDT", "BUY", qty, price, client_order_id="smoke-1")
            assert order.status == tw.OrderStatus.NEW and order.price == price, order
            assert [o.client_order_id for o in await c.open_orders("BTCUSDT")] == ["smoke-1"]
            canceled = await c.cancel("BTCUSDT", client_order_id="smoke-1")
            assert canceled.status == tw.OrderStatus.CANCELED, canceled
            assert isinstance(canceled.qty, Decimal)
    print(f"tradewire {tw.__version__}: book synced, order placed and canceled")


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)

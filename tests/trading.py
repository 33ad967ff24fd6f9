"""Helpers for order and account tests: keyed connectors on the simulator, a resting price,
and the simulator's ledger as the venue reports it."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

import tradewire as tw
from tradewire.testing import Simulator

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]
SYMBOL = "BTCUSDT"


def trader(sim: Simulator, venue: str, market: str, **options: object) -> tw.Binance | tw.Bybit:
    keys = sim.account(venue)
    kw: dict[str, object] = {
        "endpoints": sim.endpoints(venue, market),
        "api_key": keys.api_key,
        "api_secret": keys.api_secret,
        **options,
    }
    if venue == "binance":
        return tw.Binance(market, **kw)  # type: ignore[arg-type]
    return tw.Bybit(market, **kw)  # type: ignore[arg-type]


async def resting_buy(
    sim: Simulator, c: tw.Binance | tw.Bybit, venue: str, market: str
) -> tuple[Decimal, Decimal]:
    """A price 50 ticks under the best bid and a quantity above every minimum."""
    info = await c.symbol_info(SYMBOL)
    bid, _ = sim.best(venue, market, SYMBOL)
    price = bid - 50 * info.tick_size
    qty = max(info.min_qty, info.step_size * 100)
    while info.min_notional is not None and qty * price < info.min_notional:
        qty += info.step_size * 100
    return price, qty


def ledger(sim: Simulator, venue: str, market: str) -> dict[str, tuple[Decimal, Decimal]]:
    """The simulator's funds as the venue reports them: Bybit's unified account holds the spot
    and linear funds together; Binance writes 8 decimals (cut, not rounded), while the
    ledger keeps every digit of fee arithmetic."""
    markets = ["spot", "linear"] if venue == "bybit" else [market]
    out: dict[str, tuple[Decimal, Decimal]] = {}
    with localcontext(prec=60):  # sums exact beyond Python's default 28 digits
        for m in markets:
            for asset, b in sim.balances(venue, m).items():
                free, locked = out.get(asset, (Decimal(0), Decimal(0)))
                out[asset] = (free + b.free, locked + b.locked)
    eight = Decimal("1e-8")

    def cut(d: Decimal) -> Decimal:
        return d.quantize(eight, ROUND_DOWN)

    if (venue, market) == ("binance", "usdm"):  # wallet and available are written; locked is the rest
        out = {a: (cut(f), cut(f + lk) - cut(f)) for a, (f, lk) in out.items()}
    elif venue == "binance":
        out = {a: (cut(f), cut(lk)) for a, (f, lk) in out.items()}
    return out


def sim_order(sim: Simulator, venue: str, market: str, client_order_id: str) -> tw.Order:
    found = [o for o in sim.orders(venue, market) if o.client_order_id == client_order_id]
    assert len(found) == 1, f"{client_order_id}: {len(found)} orders at the venue"
    return found[0]

"""Helpers for order and account tests: keyed connectors on the simulator, a resting price,
and the simulator's ledger as the venue reports it."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any, Protocol

import tradewire as tw
from tradewire.testing import Connection, Simulator

from .books import until

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
    sim: Truth, c: tw.Binance | tw.Bybit, venue: str, market: str, ticks: int = 50
) -> tuple[Decimal, Decimal]:
    """A price `ticks` ticks under the best bid and a quantity above every minimum."""
    info = await c.symbol_info(SYMBOL)
    bid, _ = sim.best(venue, market, SYMBOL)
    price = bid - ticks * info.tick_size
    qty = max(info.min_qty, info.step_size * 100)
    while info.min_notional is not None and qty * price < info.min_notional:
        qty += info.step_size * 100
    return price, qty


class Truth(Protocol):
    """The simulator's ledger: :class:`Simulator`, or one in another process."""

    def orders(self, venue: str, market: str) -> list[Any]: ...
    def balances(self, venue: str, market: str) -> dict[str, Any]: ...
    def positions(self, venue: str, market: str) -> dict[str, Any]: ...
    def best(self, venue: str, market: str, symbol: str) -> tuple[Decimal, Decimal]: ...


def ledger(sim: Truth, venue: str, market: str) -> dict[str, tuple[Decimal, Decimal]]:
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


def writes(sim: Simulator, venue: str, market: str) -> dict[str, int]:
    """Requests served by ``"METHOD /path"``, by REST and by the WebSocket order entry together
    (the simulator counts the latter as ``"WS METHOD /path"`` of the endpoint it mirrors): what
    was sent, whichever path it took. Bybit's one host counts both categories under spot."""
    counted = "spot" if venue == "bybit" else market
    out: dict[str, int] = {}
    for key, n in sim.native.rest_requests(sim.native_venue(venue), sim.native_market(counted)).items():
        key = key.removeprefix("WS ")
        out[key] = out.get(key, 0) + n
    return out


def sim_order(sim: Simulator, venue: str, market: str, client_order_id: str) -> tw.Order:
    found = [o for o in sim.orders(venue, market) if o.client_order_id == client_order_id]
    assert len(found) == 1, f"{client_order_id}: {len(found)} orders at the venue"
    return found[0]


class Local:
    """What a user of the connector sees: the latest order states, fills, funds, positions."""

    def __init__(self) -> None:
        self.orders: dict[str, tw.Order] = {}
        self.fills: dict[str, dict[str, tw.Fill]] = {}
        self.balances: dict[str, tw.Balance] = {}
        self.positions: dict[str, tw.Position] = {}
        #: Fills delivered again (the state machine must never let one through twice).
        self.repeated: list[tuple[str, tw.Fill]] = []

    async def follow_orders(self, stream: tw.Stream[tw.OrderUpdate]) -> None:
        async for update in stream:
            cid = update.order.client_order_id
            self.orders[cid] = update.order
            if update.fill is not None:
                seen = self.fills.setdefault(cid, {})
                if update.fill.trade_id in seen:
                    self.repeated.append((cid, update.fill))
                seen[update.fill.trade_id] = update.fill

    async def follow_balances(self, stream: tw.Stream[tw.Balance]) -> None:
        async for b in stream:
            self.balances[b.asset] = b

    async def follow_positions(self, stream: tw.Stream[tw.Position]) -> None:
        async for p in stream:
            self.positions[p.key] = p


def venue_status(venue: str, market: str, order: tw.Order) -> tw.OrderStatus:
    """The simulator's neutral status as the venue names it: Bybit spot calls an order canceled
    after a partial fill `PartiallyFilledCanceled`; Binance USD-M's algo service calls a
    triggered order it could not place (the simulator cancels it, with the reason) EXPIRED."""
    if (venue, market) == ("bybit", "spot") and order.status == tw.OrderStatus.CANCELED and order.filled_qty:
        return tw.OrderStatus.PARTIALLY_FILLED_CANCELED
    if (
        (venue, market) == ("binance", "usdm")
        and order.status == tw.OrderStatus.CANCELED
        and order.trigger_price is not None
        and order.reject_reason is not None
    ):
        return tw.OrderStatus.EXPIRED
    return order.status


def differences(
    sim: Truth, venue: str, market: str, local: Local, symbols: tuple[str, ...] = (SYMBOL,)
) -> list[str]:
    """Where the local view differs from the simulator's ledger: orders, fills, funds, and the
    positions of `symbols`."""
    out: list[str] = []
    truth = {o.client_order_id: o for o in sim.orders(venue, market)}
    for cid, t in truth.items():
        mine = local.orders.get(cid)
        if mine is None:
            out.append(f"{cid}: missing locally")
            continue
        ours = (mine.order_id, mine.status, mine.filled_qty, mine.price, mine.qty, mine.side)
        theirs = (t.order_id, venue_status(venue, market, t), t.filled_qty, t.price, t.qty, t.side)
        if ours != theirs:
            out.append(f"{cid}: {ours} != {theirs}")
        fills = sum((f.qty for f in local.fills.get(cid, {}).values()), Decimal(0))
        if fills != t.filled_qty:
            out.append(f"{cid}: fills {fills} != filled {t.filled_qty}")
    for cid, mine in local.orders.items():
        if cid not in truth and not (mine.status == tw.OrderStatus.REJECTED and mine.order_id == ""):
            out.append(f"{cid}: {mine.status} locally, unknown to the venue")
    for asset, (free, locked) in ledger(sim, venue, market).items():
        b = local.balances.get(asset)
        if free + locked != 0 and (b is None or (b.free, b.locked) != (free, locked)):
            out.append(f"balance {asset}: {b} != {(free, locked)}")
    positions = sim.positions(venue, market) if market != "spot" else {}
    for symbol in symbols if market != "spot" else ():
        t_pos = positions.get(symbol)
        p = local.positions.get(symbol)
        want = (t_pos.side, t_pos.size, t_pos.entry_price) if t_pos and t_pos.size else None
        have = (p.side, p.size, p.entry_price) if p and p.size else None
        if want != have:
            out.append(f"position {symbol}: {have} != {want}")
    return out


#: The simulator's connection kinds that carry a user stream.
USER_LINKS = {"user", "api", "private"}


def user_connections(sim: Simulator, venue: str, market: str) -> list[Connection]:
    # Bybit's private connections are kept with its spot market in the simulator.
    where = "spot" if venue == "bybit" else market
    # A WebSocket API connection without a user-data subscription is an order-entry session.
    return [
        c for c in sim.connections(venue, where) if c.kind in USER_LINKS and (c.kind != "api" or c.streams)
    ]


def user_links(sim: Simulator, venue: str, market: str) -> list[int]:
    return [c.id for c in user_connections(sim, venue, market)]


def user_subscriptions(sim: Simulator, venue: str, market: str) -> set[str]:
    """What the venue sends us account events for: listen keys, ws-api subscriptions, topics."""
    return {s for c in user_connections(sim, venue, market) for s in c.streams}


async def user_stream_up(
    sim: Simulator, venue: str, market: str, besides: set[str] | frozenset[str] = frozenset()
) -> None:
    """Until the venue holds a user-stream subscription of ours (one not in `besides`)."""
    await until(
        lambda: bool(user_subscriptions(sim, venue, market) - besides), 10, "a user-stream subscription"
    )

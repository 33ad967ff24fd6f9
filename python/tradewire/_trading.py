"""Trading and the account, one API for a connector and a gateway's remote: the same methods,
arguments, types and errors whether the venue session is in this process or behind a gateway."""

from __future__ import annotations

from decimal import Decimal

from . import _native
from ._native import Balance, Order, OrderUpdate, Position, SymbolInfo
from .enums import OrderType, SideName, TimeInForceName
from .streams import Stream

#: An amount: exact decimal text, ``Decimal`` or ``int`` (a float is refused with TypeError).
Money = Decimal | str | int


class _Trading:
    """Orders and the account. Subclasses give the native side."""

    def _trader(self) -> _native.NativeConnector | _native.NativeRemote:
        raise NotImplementedError

    async def symbol_info(self, symbol: str) -> SymbolInfo:
        """One symbol's rules: tick and step size, quantity and notional limits, precisions,
        status, and the venue's raw filters. An unknown symbol raises :class:`InvalidArgument`."""
        return await self._trader().symbol_info(symbol)

    async def place_limit(
        self,
        symbol: str,
        side: SideName,
        qty: Money,
        price: Money,
        *,
        tif: TimeInForceName = "GTC",
        post_only: bool = False,
        reduce_only: bool = False,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a LIMIT order after checking it against the symbol's rules (tick and step
        size, quantity bounds, minimum notional; a failed rule raises :class:`InvalidOrder`
        naming it, nothing is sent). Amounts are ``Decimal``, ``str`` or ``int``, never float.

        Every order carries a client order id (generated unless given). If the answer is lost
        (timeout, dropped connection, venue error 5xx) the order is not sent again: it is looked
        up by client id, and comes back UNKNOWN only if that too fails — ``order()`` resolves it
        later."""
        return await self._trader().place(
            symbol,
            side,
            OrderType.LIMIT,
            qty=qty,
            price=price,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            client_order_id=client_order_id,
        )

    async def place_market(
        self,
        symbol: str,
        side: SideName,
        qty: Money | None = None,
        *,
        quote_qty: Money | None = None,
        reduce_only: bool = False,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a MARKET order of ``qty`` (base asset), or on spot of ``quote_qty`` (quote
        asset to spend). Checked and resolved like :meth:`place_limit`."""
        return await self._trader().place(
            symbol,
            side,
            OrderType.MARKET,
            qty=qty,
            quote_qty=quote_qty,
            reduce_only=reduce_only,
            client_order_id=client_order_id,
        )

    async def cancel(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancels one order, named by ``order_id`` or ``client_order_id``; returns its state
        after the cancel. An order the venue does not know (or that already ended) raises
        :class:`OrderNotFound`; its final state is then in :meth:`order`."""
        return await self._trader().cancel(symbol, order_id=order_id, client_order_id=client_order_id)

    async def cancel_all(self, symbol: str) -> list[Order]:
        """Cancels every open order of ``symbol``; returns the states of those canceled."""
        return await self._trader().cancel_all(symbol)

    async def order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """One order as the venue reports it now. Every report goes through one state machine,
        so a status never moves backwards and the filled quantity never falls."""
        return await self._trader().order(symbol, order_id=order_id, client_order_id=client_order_id)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders of ``symbol``, or of every symbol (all pages)."""
        return await self._trader().open_orders(symbol)

    async def balances(self) -> dict[str, Balance]:
        """Free and locked funds by asset (Bybit: the unified account's wallet)."""
        return {b.asset: b for b in await self._trader().balances()}

    async def positions(self, symbol: str | None = None) -> dict[str, Position]:
        """Open positions by symbol (with ``symbol``: that one, even if flat). Derivatives
        markets only; spot raises :class:`InvalidArgument`."""
        return {p.symbol: p for p in await self._trader().positions(symbol)}

    def order_updates(self) -> Stream[OrderUpdate]:
        """Every change of every order of this market, from any source — write answers, the
        venue's user stream, and the REST reconciliation run after every reconnect, when the
        venue ends the stream, and every ``reconcile_every`` seconds — as :class:`OrderUpdate`
        (the order's state after the change, and the fill that caused it). One state machine
        for all venues: a status never moves backwards or out of an end state, repeats are
        dropped, the filled quantity never falls. Never drops an update: a reader that falls a
        million updates or 128 MiB of them behind gets :class:`SlowConsumer`. Needs API keys;
        opens the user stream."""
        return Stream(self._trader().order_updates())

    def balance_updates(self) -> Stream[Balance]:
        """Each asset's funds (free, locked) when they change; the current funds first."""
        return Stream(self._trader().balance_updates())

    def position_updates(self) -> Stream[Position]:
        """Each position when it changes (a closed one comes once as FLAT, size 0); the current
        positions first. Derivatives markets only."""
        return Stream(self._trader().position_updates())

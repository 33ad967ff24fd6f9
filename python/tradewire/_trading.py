"""Trading and the account, one API for a connector and a gateway's remote: the same methods,
arguments, types and errors whether the venue session is in this process or behind a gateway."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from . import _native
from ._native import Balance, Exit, Order, OrderUpdate, Position, SymbolInfo
from .enums import LegName, OrderType, SideName, TimeInForceName, TriggerByName, TriggerKind
from .errors import TradewireError
from .streams import Stream

#: An amount: exact decimal text, ``Decimal`` or ``int`` (a float is refused with TypeError).
Money = Decimal | str | int


def _exit(e: Exit | Money | None) -> Exit | None:
    """An attached exit: an :class:`Exit`, or its trigger price alone (MARKET, LAST price)."""
    return e if e is None or isinstance(e, Exit) else Exit(e)


@dataclass(frozen=True)
class LimitOrder:
    """A LIMIT order of a batch (:meth:`_Trading.place_batch`); the fields of ``place_limit``."""

    symbol: str
    side: SideName
    qty: Money
    price: Money
    tif: TimeInForceName = "GTC"
    post_only: bool = False
    reduce_only: bool = False
    position_side: LegName | None = None
    client_order_id: str | None = None


@dataclass(frozen=True)
class MarketOrder:
    """A MARKET order of a batch; the fields of ``place_market``."""

    symbol: str
    side: SideName
    qty: Money | None = None
    quote_qty: Money | None = None
    reduce_only: bool = False
    position_side: LegName | None = None
    client_order_id: str | None = None


@dataclass(frozen=True)
class Amendment:
    """One amendment of :meth:`_Trading.amend_batch`: the order (by ``order_id`` or
    ``client_order_id``) and its new ``qty`` (total) and/or ``price``."""

    order_id: str | None = None
    client_order_id: str | None = None
    qty: Money | None = None
    price: Money | None = None


def _batch_item(o: LimitOrder | MarketOrder) -> _native._BatchItem:
    if isinstance(o, LimitOrder):
        return (o.symbol, o.side, OrderType.LIMIT, o.qty, None, o.price, o.tif, o.post_only, o.reduce_only,
                o.position_side, o.client_order_id)  # fmt: skip
    if isinstance(o, MarketOrder):
        return (o.symbol, o.side, OrderType.MARKET, o.qty, o.quote_qty, None, None, False, o.reduce_only,
                o.position_side, o.client_order_id)  # fmt: skip
    raise TypeError(f"a batch takes LimitOrder and MarketOrder, not {type(o).__name__}")


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
        position_side: LegName | None = None,
        take_profit: Exit | Money | None = None,
        stop_loss: Exit | Money | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a LIMIT order after checking it against the symbol's rules (tick and step
        size, quantity bounds, minimum notional; a failed rule raises :class:`InvalidOrder`
        naming it, nothing is sent). Amounts are ``Decimal``, ``str`` or ``int``, never float.

        In hedge mode ``position_side`` names the leg (``LONG`` or ``SHORT``): BUY opens the
        long leg and SELL closes it, SELL opens the short leg and BUY closes it. A closing order
        is reduce-only by itself (it may not take more than the leg holds); an opening order
        cannot be ``reduce_only``. Leave it None in one-way mode.

        Every order carries a client order id (generated unless given). If the answer is lost
        (timeout, dropped connection, venue error 5xx) the order is not sent again: it is looked
        up by client id, and comes back UNKNOWN only if that too fails — ``order()`` resolves it
        later.

        ``take_profit`` / ``stop_loss`` (Bybit linear) attach exits to this entry: an
        :class:`Exit`, or just its trigger price (then MARKET, watching the LAST price). As the
        entry fills, the venue places a reduce-only take-profit and stop-loss for what filled
        (they appear as orders of their own, ``parent_client_order_id`` naming this entry,
        UNTRIGGERED until their price is reached); when one fires the other is deactivated,
        and a position that closes deactivates both. A BUY's take-profit must be above its
        price and its stop-loss below (a SELL's the other way round); a reducing order takes
        none. Refused as :class:`InvalidOrder` rule ``exits`` (other markets too)."""
        return await self._trader().place(
            symbol,
            side,
            OrderType.LIMIT,
            qty=qty,
            price=price,
            time_in_force=tif,
            post_only=post_only,
            reduce_only=reduce_only,
            position_side=position_side,
            take_profit=_exit(take_profit),
            stop_loss=_exit(stop_loss),
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
        position_side: LegName | None = None,
        take_profit: Exit | Money | None = None,
        stop_loss: Exit | Money | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a MARKET order of ``qty`` (base asset), or on spot of ``quote_qty`` (quote
        asset to spend). Checked and resolved like :meth:`place_limit` (``position_side``,
        ``take_profit`` and ``stop_loss`` as there; the venue judges a market entry's exits
        against the last price)."""
        return await self._trader().place(
            symbol,
            side,
            OrderType.MARKET,
            qty=qty,
            quote_qty=quote_qty,
            reduce_only=reduce_only,
            position_side=position_side,
            take_profit=_exit(take_profit),
            stop_loss=_exit(stop_loss),
            client_order_id=client_order_id,
        )

    async def place_stop(
        self,
        symbol: str,
        side: SideName,
        qty: Money | None,
        trigger_price: Money,
        *,
        price: Money | None = None,
        trigger_by: TriggerByName = "LAST",
        tif: TimeInForceName = "GTC",
        reduce_only: bool = False,
        close_position: bool = False,
        position_side: LegName | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a stop order: UNTRIGGERED (off the book, funds not held) until the watched
        price moves against the order to ``trigger_price`` — a BUY's rises to it, a SELL's falls
        to it — then a MARKET order, or a LIMIT order at ``price`` if given (stop-limit). The
        order keeps its client id through the trigger (TRIGGERED, then NEW, FILLED, ...), and
        its order id too, except on Binance USD-M: its algo service names the order by an algo
        id until the trigger, and the order it became by that order's id after.

        ``trigger_by`` picks the price watched: ``LAST`` trade (spot has only this; Binance
        USD-M ``LAST`` or ``MARK``), ``MARK`` or ``INDEX``; another is refused locally
        (:class:`InvalidOrder`, rule ``trigger_by``). A trigger the price has already reached is
        refused by the venue (rule ``trigger_price``). Checked, placed and resolved like
        :meth:`place_limit`.

        ``close_position=True`` (derivatives, MARKET, ``qty`` None) closes the whole position it
        meets when it triggers (Binance USD-M ``closePosition``, Bybit ``closeOnTrigger`` with a
        zero quantity); on a hedge-mode leg it must be the closing side (rule
        ``close_position``)."""
        return await self._conditional(
            symbol, side, qty, trigger_price, TriggerKind.STOP, price, trigger_by, tif, reduce_only,
            close_position, position_side, client_order_id,
        )  # fmt: skip

    async def place_trailing_stop(
        self,
        symbol: str,
        side: SideName,
        qty: Money,
        callback_rate: Money,
        *,
        activation_price: Money | None = None,
        trigger_by: TriggerByName = "LAST",
        reduce_only: bool = False,
        position_side: LegName | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a trailing stop (Binance spot and USD-M): a MARKET order UNTRIGGERED until the
        price comes back ``callback_rate`` percent from the best price since it became active —
        a SELL's from the highest, a BUY's from the lowest. Active from placement, or once the
        price reaches ``activation_price`` (USD-M: a SELL's must be above the latest price, a
        BUY's below; spot: the stop's own condition, a SELL's reached on a fall).

        ``callback_rate`` is a percent: USD-M takes 0.1 to 10, spot whole BIPS (steps of
        0.01%, within the symbol's TRAILING_DELTA filter); outside them, or on a market without
        trailing stops (Bybit trails a position: ``set_position_exits(trailing_stop=...)``), it
        is refused locally (:class:`InvalidOrder`, rule ``trailing``). The order shows its
        ``callback_rate`` and its activation price as ``trigger_price`` (None when active from
        placement); it keeps its client id through the trigger, and on USD-M is named by its
        algo id until then. Checked, placed and resolved like :meth:`place_stop`."""
        return await self._trader().place(
            symbol,
            side,
            OrderType.MARKET,
            qty=qty,
            reduce_only=reduce_only,
            position_side=position_side,
            trigger_price=activation_price,
            trigger_kind=TriggerKind.STOP,
            trigger_by=trigger_by,
            callback_rate=callback_rate,
            client_order_id=client_order_id,
        )

    async def place_take_profit(
        self,
        symbol: str,
        side: SideName,
        qty: Money | None,
        trigger_price: Money,
        *,
        price: Money | None = None,
        trigger_by: TriggerByName = "LAST",
        tif: TimeInForceName = "GTC",
        reduce_only: bool = False,
        close_position: bool = False,
        position_side: LegName | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Places a take-profit order: as :meth:`place_stop`, but it fires when the price moves
        the order's way — a SELL's rises to ``trigger_price``, a BUY's falls to it."""
        return await self._conditional(
            symbol, side, qty, trigger_price, TriggerKind.TAKE_PROFIT, price, trigger_by, tif,
            reduce_only, close_position, position_side, client_order_id,
        )  # fmt: skip

    async def _conditional(
        self,
        symbol: str,
        side: SideName,
        qty: Money | None,
        trigger_price: Money,
        kind: TriggerKind,
        price: Money | None,
        trigger_by: TriggerByName,
        tif: TimeInForceName,
        reduce_only: bool,
        close_position: bool,
        position_side: LegName | None,
        client_order_id: str | None,
    ) -> Order:
        limit = price is not None
        return await self._trader().place(
            symbol,
            side,
            OrderType.LIMIT if limit else OrderType.MARKET,
            qty=qty,
            price=price,
            time_in_force=tif if limit else None,
            reduce_only=reduce_only,
            position_side=position_side,
            trigger_price=trigger_price,
            trigger_kind=kind,
            trigger_by=trigger_by,
            close_position=close_position,
            client_order_id=client_order_id,
        )

    async def cancel(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancels one order, named by ``order_id`` or ``client_order_id``; returns its state
        after the cancel. An order the venue does not know (or that already ended) raises
        :class:`OrderNotFound`; its final state is then in :meth:`order`."""
        return await self._trader().cancel(symbol, order_id=order_id, client_order_id=client_order_id)

    async def amend(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        qty: Money | None = None,
        price: Money | None = None,
        replacement_client_order_id: str | None = None,
    ) -> Order:
        """Changes an open LIMIT order's quantity (``qty``: the new total, the filled part
        included) and/or ``price``, checked against the symbol's rules first (a failed rule,
        no change, a quantity not above what already filled, or a non-LIMIT order raise
        :class:`InvalidOrder`, nothing sent). Returns the order's state after the change.

        In place where the venue can: Binance USD-M (the order loses its queue place), Bybit
        (a pure quantity decrease keeps the place, anything else loses it), Binance spot for a
        quantity decrease (keeps the place). A Binance spot price change or quantity increase
        is an atomic cancel-replace instead: the returned order is the replacement, with new
        ids (``replacement_client_order_id`` if given) and the unfilled rest as its quantity;
        the old order ends CANCELED. Binance USD-M's algo service modifies nothing: a stop-limit
        there not yet triggered raises :class:`InvalidOrder` (rule ``amend_in_place``). A
        refused amendment leaves the order as it was; a lost answer is resolved by looking the
        order up, never by sending again."""
        return await self._trader().amend(
            symbol,
            order_id=order_id,
            client_order_id=client_order_id,
            qty=qty,
            price=price,
            replacement_client_order_id=replacement_client_order_id,
        )

    async def replace(
        self,
        symbol: str,
        qty: Money,
        price: Money,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        side: SideName | None = None,
        tif: TimeInForceName = "GTC",
        post_only: bool = False,
        new_client_order_id: str | None = None,
    ) -> Order:
        """Cancels one order and places a LIMIT order of ``qty`` at ``price`` in one request
        (``side``: the old order's unless given), where the venue has such a request (Binance
        spot); elsewhere :class:`InvalidArgument` (use :meth:`amend`). Returns the new order.
        If the cancel fails nothing is placed (:class:`OrderNotFound`); if the new order is
        refused after the cancel went through, the error says so and the old order's end is in
        :meth:`order`. A lost answer is resolved by the new order's client id."""
        return await self._trader().replace(
            symbol,
            qty,
            price,
            order_id=order_id,
            client_order_id=client_order_id,
            side=side,
            time_in_force=tif,
            post_only=post_only,
            new_client_order_id=new_client_order_id,
        )

    async def place_batch(self, orders: Sequence[LimitOrder | MarketOrder]) -> list[Order | TradewireError]:
        """Checks and places many orders in as few requests as the venue allows (Binance USD-M
        ``batchOrders``, 5 a request; Bybit ``create-batch``, 20 a request on linear and 10 on
        spot; Binance spot has no batch: single requests at once, within the rate limits).
        Returns one outcome per order, in order: the :class:`Order`, or the error it would have
        raised on its own (a failed rule, a refusal, :class:`RateLimited` for the orders past a
        Bybit limit) — never one exception for all. A wrong argument type raises at the call,
        before anything is sent. A lost answer is resolved order by order by client id."""
        return await self._trader().place_batch([_batch_item(o) for o in orders])

    async def amend_batch(self, symbol: str, amendments: Sequence[Amendment]) -> list[Order | TradewireError]:
        """Amends many open LIMIT orders of ``symbol`` in as few requests as the venue allows
        (Binance USD-M ``PUT batchOrders``, 5 a request; Bybit ``amend-batch``, 10 a request;
        Binance spot: each amended on its own, at once, replaced where :meth:`amend` would).
        Each amendment is checked and resolved as :meth:`amend`'s; one outcome per amendment,
        in order: the order after it, or the error."""
        items = [(a.order_id, a.client_order_id, a.qty, a.price) for a in amendments]
        return await self._trader().amend_batch(symbol, items)

    async def cancel_batch(
        self,
        symbol: str,
        *,
        order_ids: Sequence[str] | None = None,
        client_order_ids: Sequence[str] | None = None,
    ) -> list[Order | TradewireError]:
        """Cancels many orders of ``symbol`` named by ``order_ids`` or ``client_order_ids``
        (Binance USD-M: 10 a request; Bybit: 20 on linear, 10 on spot; Binance spot: single
        cancels at once). One outcome per order, in order: its state after the cancel, or the
        error (:class:`OrderNotFound` for one already ended; its final state is then in
        :meth:`order`)."""
        ids = list(order_ids) if order_ids is not None else None
        cids = list(client_order_ids) if client_order_ids is not None else None
        return await self._trader().cancel_batch(symbol, order_ids=ids, client_order_ids=cids)

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
        """Open positions by :attr:`Position.key`: the symbol in one-way mode, the symbol and
        leg (``BTCUSDT-LONG``, ``BTCUSDT-SHORT``) in hedge mode. With ``symbol``: that symbol's,
        even if flat. Derivatives markets only; spot raises :class:`InvalidArgument`."""
        return {p.key: p for p in await self._trader().positions(symbol)}

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

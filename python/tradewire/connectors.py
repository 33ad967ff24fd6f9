"""Connectors: one venue market each, used with ``async with``.

A connector signs requests, keeps the venue's clock, waits for room in every rate limit before
sending, fails fast while the venue is down (circuit breaker), and reports all of it through
:meth:`health` and :meth:`events`. Public data needs no keys.
"""

from __future__ import annotations

import enum
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, Self, TypedDict, Unpack

from . import _native
from ._native import (
    AggTrade,
    BookDiff,
    BookView,
    Exit,
    FundingRate,
    Gap,
    Kline,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Order,
    OrderBook,
    Position,
    SymbolInfo,
    Ticker,
    TopOfBook,
    Trade,
)
from ._trading import Money, _exit, _Trading
from .endpoints import BinanceMarket, BybitMarket, Endpoints
from .enums import IntervalName, LegName, MarginMode, Market, PositionMode, SideName, Venue
from .errors import InvalidArgument, StreamClosed
from .history import History
from .streams import Stream

#: Which path order writes take (see :class:`ConnectorOptions`).
Transport = Literal["auto", "ws", "rest"]


@dataclass(frozen=True, slots=True)
class LimitHealth:
    name: str
    used: int
    limit: int
    #: Seconds until the window frees room.
    resets_in: float


@dataclass(frozen=True, slots=True)
class ConnectionHealth:
    """One WebSocket connection of a connector."""

    connection: int
    url: str
    connected: bool
    topics: tuple[str, ...]
    #: Seconds since its last frame, while connected.
    last_message_age: float | None
    reconnects: int


@dataclass(frozen=True, slots=True)
class OrderEntryHealth:
    """The connector's WebSocket order-entry session (Binance's WebSocket API, Bybit's trade
    WebSocket)."""

    url: str
    #: Connected, logged in and taking writes.
    up: bool
    reconnects: int
    #: Seconds since its last frame, while up.
    last_message_age: float | None
    #: Writes sent on it, answered, and lost (sent, then the connection failed or no answer came
    #: in time: each is looked up by its client order id, never sent again).
    sent: int
    answered: int
    lost: int
    #: The venue's words if it refused the last login.
    refused: str | None


@dataclass(frozen=True, slots=True)
class BookHealth:
    """One live book of a connector."""

    symbol: str
    #: The stream or topic it is kept from.
    topic: str
    is_synced: bool
    update_id: int | None
    #: Seconds since it last changed (None: never).
    age: float | None
    #: Messages applied (snapshots included).
    applied: int
    #: Messages dropped as already seen or older than the book.
    ignored: int
    #: Times it lost sync and resynced.
    resyncs: int
    last_reason: str | None
    #: Messages refused for a level that cannot be one (negative, too fine a price).
    malformed: int = 0
    #: Failed sync attempts in a row (each retry waits longer: 0.5 s doubling to 30 s).
    failures: int = 0
    #: While out of sync: seconds until the next attempt may start.
    retry_in: float | None = None
    #: In sync, but nothing applied for ``book_stale_after`` seconds (a ``book_stale`` event).
    stale: bool = False


@dataclass(frozen=True, slots=True)
class Health:
    """A connector's state at one moment: breaker, clock and rate-limit usage."""

    venue: Venue
    market: Market
    breaker_state: Literal["closed", "open", "half_open"]
    breaker_failures: int
    #: Seconds until a request would be let through while the breaker is open.
    breaker_retry_in: float | None
    #: Venue clock minus local clock, in milliseconds (None before the first sample).
    clock_offset_ms: int | None
    clock_drift_ms_per_s: float
    clock_round_trip: float | None
    #: Seconds since the last clock sample.
    clock_age: float | None
    clock_samples: int
    limits: tuple[LimitHealth, ...]
    #: When a venue ban ends (Unix ms), if banned now.
    banned_until_ms: int | None
    connections: tuple[ConnectionHealth, ...]
    #: Every subscribed stream or topic and the seconds since it last delivered (None: not yet).
    subscriptions: tuple[tuple[str, float | None], ...]
    books: tuple[BookHealth, ...]
    #: Market messages that could not be read (logged and skipped).
    skipped_messages: int
    #: Reports of orders through the state machine: (applied, repeats dropped, stale ignored).
    order_reports: tuple[int, int, int]
    #: Orders held: open ones, and ended ones for ``keep_ended_orders`` seconds after their end.
    orders_held: int = 0
    #: User-stream messages that could not be read; each makes the account be read by REST.
    skipped_user_messages: int = 0
    #: The WebSocket order-entry session, if one is open.
    order_entry: OrderEntryHealth | None = None


@dataclass(frozen=True)
class PositionSettings:
    """A derivatives symbol's settings (:meth:`Binance.settings`)."""

    symbol: str
    leverage: Decimal
    margin_mode: MarginMode
    position_mode: PositionMode


class ConnectorEventKind(enum.StrEnum):
    """What a :class:`ConnectorEvent` tells; its ``fields`` (text) are listed with each."""

    #: The circuit breaker moved: ``from``, ``to`` (``closed``, ``open``, ``half_open``).
    BREAKER = "breaker"
    #: ``offset_ms``: venue clock minus ours.
    CLOCK_SYNCED = "clock_synced"
    #: ``reason``.
    CLOCK_SYNC_FAILED = "clock_sync_failed"
    #: A request waits for room: ``limit``, ``delay`` (seconds).
    RATE_LIMIT_WAIT = "rate_limit_wait"
    #: The venue answered 429: ``until_ms``.
    RATE_LIMITED = "rate_limited"
    #: The venue answered 418 or 403: ``until_ms``.
    BANNED = "banned"
    #: Per WebSocket (``connection``, ``url``):
    CONNECTED = "connected"
    #: ``reason``.
    DISCONNECTED = "disconnected"
    #: ``attempt``, ``delay`` (seconds).
    RECONNECTING = "reconnecting"
    #: ``topics`` (how many).
    RESUBSCRIBED = "resubscribed"
    #: Replaced ahead of the venue's connection lifetime.
    ROTATED = "rotated"
    #: ``symbol``, ``update_id``.
    BOOK_SYNCED = "book_synced"
    #: ``symbol``, ``reason``, ``failures`` in a row, ``retry_in`` (seconds until the next
    #: attempt: a book that cannot sync backs off).
    BOOK_UNSYNCED = "book_unsynced"
    #: ``symbol``, ``idle`` (seconds): a book in sync applied nothing for ``book_stale_after``;
    #: its stream may have gone quiet at the venue. It stays in sync and is flagged stale.
    BOOK_STALE = "book_stale"
    #: ``symbol``: a stale book applied an update again.
    BOOK_FRESH = "book_fresh"
    #: ``symbol``, ``changes`` such as ``tick_size 0.01 -> 0.1``: the venue changed its rules
    #: (read every ``symbols_interval`` seconds and after the venue refused an order for a filter).
    SYMBOL_RULES_CHANGED = "symbol_rules_changed"
    #: Of the connector's own tasks, each run under a supervisor (``child``):
    TASK_STARTED = "task_started"
    TASK_EXITED = "task_exited"
    #: ``reason``: the task failed and is restarted.
    TASK_FAILED = "task_failed"
    #: ``reason``, ``attempt``, ``delay``: a task failed or panicked and was started again.
    TASK_RESTARTED = "task_restarted"
    #: ``reason``: a one-shot task panicked; its work is asked again.
    TASK_PANICKED = "task_panicked"
    #: ``restarts``: too many restarts within a minute; the connector then closes, and every
    #: reader sees it closed.
    TASK_GAVE_UP = "task_gave_up"
    #: Of a :class:`~tradewire.Remote`: another gateway now serves its label (a standby took
    #: over): ``gateway`` (its name), ``epoch`` (its), ``previous`` (the epoch before).
    GATEWAY_FAILOVER = "gateway_failover"


@dataclass(frozen=True, slots=True)
class ConnectorEvent:
    """An event of a connector: its ``kind`` and the ``fields`` that kind carries (as text;
    see :class:`ConnectorEventKind`)."""

    kind: ConnectorEventKind
    fields: Mapping[str, str]


class ConnectorOptions(TypedDict, total=False):
    """The keywords of :class:`Binance` and :class:`Bybit` (``mypy`` checks their names and
    types). Durations are in seconds; a value above a duration's ceiling is refused, since it is
    most likely milliseconds."""

    #: API key and secret: needed for orders, account and the user stream; public data needs none.
    api_key: str | None
    api_secret: str | None
    #: Where the venue is: default the venue's production (or ``testnet``) URLs.
    endpoints: Endpoints | None
    testnet: bool
    #: How long a signed request stays valid at the venue, in milliseconds (1-60000).
    recv_window_ms: int
    #: Seconds a request may take (at most 600).
    timeout: float
    #: Failures in a row that open the circuit breaker, and seconds it stays open (at most 600).
    breaker_failures: int
    breaker_cool_down: float
    #: Seconds between clock samples (at most 3600).
    clock_interval: float
    #: Seconds between REST reconciliations of open orders (at most 3600).
    reconcile_every: float
    #: Seconds between Binance listen-key keepalives (below the key's 3600 s life).
    listen_key_keepalive: float
    #: Seconds between reads of the symbols' rules (at most a day).
    symbols_interval: float
    #: Restarts a supervised task may take within a minute before the connector gives up.
    restarts: int
    #: Seconds a book in sync may apply nothing before it is flagged stale (at most 3600;
    #: None: never).
    book_stale_after: float | None
    #: Which path order writes (place, cancel, amend) take: ``"auto"`` the venue's WebSocket
    #: order entry while its session is up, REST otherwise; ``"ws"`` only the session (a write
    #: while it is down raises :class:`NotConnected`, nothing sent); ``"rest"`` only REST.
    transport: Transport
    #: Seconds an order that ended is held after its end (at most a week); then it is
    #: forgotten and queries of it go to the venue.
    keep_ended_orders: float


#: Each duration keyword and its ceiling in seconds.
_CEILINGS = {
    "timeout": 600.0,
    "breaker_cool_down": 600.0,
    "clock_interval": 3600.0,
    "reconcile_every": 3600.0,
    "listen_key_keepalive": 3599.0,
    "symbols_interval": 86_400.0,
    "sync_timeout": 600.0,
    "stale_after": 600.0,
    "book_stale_after": 3600.0,
    "keep_ended_orders": 604_800.0,
}


class _Connector(_Trading):
    _venue: Venue
    _markets: tuple[str, ...]

    def __init__(
        self,
        market: str,
        *,
        api_key: str | None = None,
        api_secret: str | None = None,
        endpoints: Endpoints | None = None,
        testnet: bool = False,
        recv_window_ms: int = 5000,
        timeout: float = 10.0,
        breaker_failures: int = 5,
        breaker_cool_down: float = 10.0,
        clock_interval: float = 30.0,
        reconcile_every: float = 30.0,
        listen_key_keepalive: float = 1800.0,
        symbols_interval: float = 600.0,
        restarts: int = 10,
        book_stale_after: float | None = 60.0,
        keep_ended_orders: float = 3600.0,
        transport: Transport = "auto",
    ) -> None:
        if market not in self._markets:
            allowed = ", ".join(repr(m) for m in self._markets)
            raise InvalidArgument(
                f"{type(self).__name__} has no market {market!r}: use one of {allowed}", field="market"
            )
        for name, value in (("api_key", api_key), ("api_secret", api_secret)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str, not {type(value).__name__}")
        if transport not in ("auto", "ws", "rest"):
            raise InvalidArgument(f"transport {transport!r}: use 'auto', 'ws' or 'rest'", field="transport")
        if endpoints is not None and not isinstance(endpoints, Endpoints):
            raise TypeError(f"endpoints must be tradewire.Endpoints, not {type(endpoints).__name__}")
        if not isinstance(testnet, bool):
            raise TypeError(f"testnet must be a bool, not {type(testnet).__name__}")
        self.market = market
        self.endpoints = endpoints if endpoints is not None else self._preset(market, testnet)
        self._native_market = Market.parse(market)
        self._options: dict[str, Any] = {
            "api_key": api_key,
            "api_secret": api_secret,
            "recv_window_ms": _count("recv_window_ms", recv_window_ms, 60_000),
            "timeout_ms": _millis("timeout", timeout),
            "breaker_failures": _count("breaker_failures", breaker_failures, 1_000),
            "breaker_cool_down_ms": _millis("breaker_cool_down", breaker_cool_down),
            "clock_interval_ms": _millis("clock_interval", clock_interval),
            "reconcile_every_ms": _millis("reconcile_every", reconcile_every),
            "listen_key_keepalive_ms": _millis("listen_key_keepalive", listen_key_keepalive),
            "symbols_interval_ms": _millis("symbols_interval", symbols_interval),
            "restarts": _count("restarts", restarts, 1_000),
            "book_stale_after_ms": 0
            if book_stale_after is None
            else _millis("book_stale_after", book_stale_after),
            "keep_ended_orders_ms": _millis("keep_ended_orders", keep_ended_orders),
            "transport": transport,
        }
        self._native: _native.NativeConnector | None = None

    @staticmethod
    def _preset(market: str, testnet: bool) -> Endpoints:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """The venue market's name, as merged quotes and the gateway's subjects give it:
        ``binance-spot``, ``binance-usdm``, ``bybit-spot``, ``bybit-linear``."""
        return f"{self._venue.value}-{self.market}"

    def __repr__(self) -> str:
        state = "open" if self._native is not None else "closed"
        return f"{type(self).__name__}(market={self.market!r}, rest={self.endpoints.rest!r}, {state})"

    async def start(self) -> Self:
        if self._native is None:
            self._native = await _native.NativeConnector.start(
                self._venue,
                self._native_market,
                self.endpoints.rest,
                self.endpoints.ws_public,
                ws_market=self.endpoints.ws_market,
                ws_private=self.endpoints.ws_private,
                ws_api=self.endpoints.ws_api,
                **self._options,
            )
        return self

    async def close(self) -> None:
        if self._native is not None:
            self._native.close()
            self._native = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def _trader(self) -> _native.NativeConnector:
        return self.native

    @property
    def native(self) -> _native.NativeConnector:
        if self._native is None:
            raise StreamClosed(
                f"{type(self).__name__} is not started (or closed): use it in an `async with` block"
            )
        return self._native

    async def request(
        self,
        method: Literal["GET", "POST", "PUT", "DELETE"],
        path: str,
        params: Mapping[str, str | int] | None = None,
        *,
        signed: bool = False,
    ) -> Any:
        """Any REST endpoint, through the same limiter, breaker, clock and signing; returns the
        decoded JSON. Only GETs are ever sent twice."""
        pairs = [(k, str(v)) for k, v in (params or {}).items()]
        text = await self.native.request(method, path, pairs, signed=signed)
        return json.loads(text)

    def trades(self, *symbols: str, capacity: int = 65_536) -> Stream[Trade | Gap]:
        """Public trades of ``symbols`` as :class:`Trade` events (exchange and local receive
        times, the aggressor's side, exact prices and quantities) on a supervised connection. A
        reader that falls behind gets a :class:`Gap` with the number missed; leaving the loop
        ends the subscription. Unknown symbols raise :class:`InvalidArgument`."""
        return Stream(self.native.trades(list(symbols), capacity=capacity))

    def tickers(self, *symbols: str, capacity: int = 65_536) -> Stream[Ticker | Gap]:
        """24 h tickers of ``symbols`` as :class:`Ticker` events (Bybit's partial updates arrive
        folded into full tickers; ``bid``/``ask`` are None where the venue's ticker lacks them).
        A reader that falls behind gets a :class:`Gap`; leaving the loop ends the subscription."""
        return Stream(self.native.tickers(list(symbols), capacity=capacity))

    @property
    def history(self) -> History:
        """Walks through a symbol's history over any range, page by page within the venue's
        paging rules and rate limits (:class:`~tradewire.history.History`)."""
        return History(self)

    def agg_trades(self, *symbols: str, capacity: int = 65_536) -> Stream[AggTrade | Gap]:
        """Aggregated trades of ``symbols`` (Binance ``aggTrade``: one taker order's fills at one
        price, with their first and last trade ids) beside :meth:`trades`. A reader that falls
        behind gets a :class:`Gap`. Bybit has none: :class:`InvalidArgument`."""
        return Stream(self.native.agg_trades(list(symbols), capacity=capacity))

    def bbo(self, *symbols: str, capacity: int = 65_536) -> Stream[TopOfBook | Gap]:
        """The best bid and offer of ``symbols`` after each change, as :class:`TopOfBook`:
        Binance's ``bookTicker`` stream, Bybit's ``orderbook.1`` kept in sync like any book (a
        gap resyncs it; while out of sync the event has no levels). A reader that falls behind
        gets a :class:`Gap`."""
        return Stream(self.native.bbo(list(symbols), capacity=capacity))

    async def depth_snapshot(self, symbol: str, limit: int = 100) -> BookView:
        """The venue's REST order book of ``symbol``, ``limit`` levels a side at most, as a synced
        :class:`BookView` with the venue's update id (weighed by the rate limiter; Binance USD-M
        is asked at its next allowed depth). Beyond the venue's depth (Binance spot 5000, USD-M
        and Bybit 1000): :class:`InvalidArgument`."""
        return await self.native.depth_snapshot(symbol, limit=_count("limit", limit, 5000))

    def mark_prices(self, *symbols: str, capacity: int = 65_536) -> Stream[MarkPrice | Gap]:
        """Mark and index prices and the coming funding (rate, next time) of derivatives, as
        :class:`MarkPrice`: Binance USD-M ``markPrice@1s``, Bybit linear ``tickers`` (whose
        partial updates arrive folded, with ``open_interest``). Spot markets have none:
        :class:`InvalidArgument`. A reader that falls behind gets a :class:`Gap`."""
        return Stream(self.native.mark_prices(list(symbols), capacity=capacity))

    def liquidations(self, *symbols: str, capacity: int = 65_536) -> Stream[Liquidation | Gap]:
        """Forced liquidations of derivatives as :class:`Liquidation` (which position, price,
        size): Binance USD-M ``forceOrder`` (the latest per symbol each second, as the venue
        samples them), Bybit ``allLiquidation`` (every one). Spot: :class:`InvalidArgument`."""
        return Stream(self.native.liquidations(list(symbols), capacity=capacity))

    async def mark_price(self, symbol: str) -> MarkPrice:
        """A derivative's mark and index price and coming funding by REST (Binance premium
        index, Bybit linear ticker). Spot: :class:`InvalidArgument`."""
        return await self.native.mark_price(symbol)

    async def open_interest(self, symbol: str) -> OpenInterest:
        """A derivative's open interest now, in contracts of the base asset, by REST."""
        return await self.native.open_interest(symbol)

    async def funding_rates(
        self,
        symbol: str,
        *,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        limit: int | None = None,
    ) -> list[FundingRate]:
        """Past fundings of a derivative by REST, oldest first: at most ``limit`` (default and
        most: Binance 1000, Bybit 200 a request) between ``start`` and ``end`` (Unix ms or aware
        datetimes), from ``start`` on if given, else the latest up to ``end`` or now."""
        return await self.native.funding_rates(
            symbol,
            start_ms=_epoch_ms("start", start),
            end_ms=_epoch_ms("end", end),
            limit=None if limit is None else _count("limit", limit, 1000),
        )

    async def klines(
        self,
        symbol: str,
        interval: IntervalName,
        *,
        start: int | datetime | None = None,
        end: int | datetime | None = None,
        limit: int | None = None,
    ) -> list[Kline]:
        """Candles of ``symbol`` by REST, oldest first: at most ``limit`` (default 500, at most
        the venue's 1000, or 1500 on Binance USD-M) opening between ``start`` and ``end``
        (Unix ms or aware datetimes), from ``start`` on if given, else the latest up to ``end``
        or now. The venue's current candle, if included, has ``closed`` False. An interval the
        market lacks raises :class:`InvalidArgument`. For longer ranges walk pages yourself or
        use the history helpers."""
        return await self.native.klines(
            symbol,
            interval,
            start_ms=_epoch_ms("start", start),
            end_ms=_epoch_ms("end", end),
            limit=None if limit is None else _count("limit", limit, 1500),
        )

    def kline_updates(self, *symbols: str, interval: IntervalName, capacity: int = 65_536) -> Stream[Kline]:
        """Live candles of ``symbols``: the open candle as it changes (``closed`` False), then
        each candle once closed, exactly once and in order. Closed candles the stream missed
        (a reconnect, a lost frame) are read by REST before later ones are passed on. Nothing is
        dropped: a reader ``capacity`` candles behind gets :class:`SlowConsumer`."""
        return Stream(self.native.kline_updates(list(symbols), interval, capacity=capacity))

    async def book(self, symbol: str, *, depth: int = 50, sync_timeout: float = 30.0) -> OrderBook:
        """A live order book of ``symbol`` kept in sync in Rust, returned once in sync.

        Binance books follow the venue's diff stream from a REST snapshot (``limit=1000``,
        weighed by the rate limiter); Bybit books follow ``orderbook.{depth}`` (the smallest of
        1, 50, 200, 1000 that holds ``depth``). A gap, duplicate, reordering or crossed book
        marks it unsynced (``is_synced`` False, no levels shown, a ``book_unsynced`` event) and
        resyncs that symbol only. Raises :class:`Timeout` if not in sync within ``sync_timeout``
        seconds. ``close()`` (or ``with``) releases it."""
        return await self.native.book(symbol, depth=depth, timeout_ms=_millis("sync_timeout", sync_timeout))

    def book_updates(self, *symbols: str, depth: int = 10) -> Stream[BookView]:
        """A :class:`BookView` (best ``depth`` levels a side, update id, sync state) of each
        book after every change, conflated per symbol: a slow reader sees the latest state of
        each book, never a backlog (a view is built when it is taken, so it is the book as it
        is then, consistent with one update id). The current view of each book comes first."""
        return Stream(self.native.book_updates(list(symbols), depth=depth))

    def book_diffs(self, symbol: str, *, depth: int = 1000, capacity: int = 65536) -> Stream[BookDiff]:
        """Every change of the book of ``symbol`` (kept at least ``depth`` levels a side), none
        conflated, for a reader that keeps its own book or acts on each change: the whole book
        first as a reset, then each venue message's changes as the book applied them
        (sequence-checked; quantity 0 removes a level). A resync or a loss of sync is a reset.
        A reader that falls ``capacity`` diffs behind gets :class:`SlowConsumer` (open a new
        stream: it starts with the whole book)."""
        return Stream(self.native.book_diffs(symbol, depth=depth, capacity=capacity))

    async def place_oco(
        self,
        symbol: str,
        side: SideName,
        qty: Money,
        price: Money,
        stop_price: Money,
        *,
        stop_limit_price: Money | None = None,
        list_client_order_id: str | None = None,
        limit_client_order_id: str | None = None,
        stop_client_order_id: str | None = None,
    ) -> tuple[Order, Order]:
        """Places a one-cancels-the-other pair (Binance spot's OCO order list) of ``side`` and
        ``qty``: a take-profit resting as a post-only LIMIT at ``price``, and a stop waiting
        for the last price to reach ``stop_price`` (then MARKET, or LIMIT at
        ``stop_limit_price``). A SELL's take-profit is above the last price and its stop below
        (a BUY's the other way round). When one leg trades or triggers, the venue expires the
        other (``reject_reason`` ``OCO_TRIGGER``); canceling either cancels both. The pair
        holds its funds once.

        Returns ``(take_profit, stop)``, each an order of its own on ``order()``, the order
        stream and ``open_orders()``. Both legs are checked as orders (and the take-profit on
        the profit side of the stop: rule ``oco_prices``) before anything is sent; the venue's
        refusal of the prices against the last price is rule ``oco_prices`` too. A lost answer
        is resolved leg by leg by client id, never resent. Other markets raise
        :class:`InvalidArgument`."""
        return await self._trader().place_oco(
            symbol, side, qty, price, stop_price, stop_limit_price=stop_limit_price,
            list_client_order_id=list_client_order_id, limit_client_order_id=limit_client_order_id,
            stop_client_order_id=stop_client_order_id,
        )  # fmt: skip

    async def set_position_exits(
        self,
        symbol: str,
        *,
        take_profit: Exit | Money | None = None,
        stop_loss: Exit | Money | None = None,
        trailing_stop: Money | None = None,
        activation_price: Money | None = None,
        position_side: LegName | None = None,
    ) -> Position:
        """Sets a position's own take-profit, stop-loss and/or trailing stop (Bybit linear,
        the venue's full-position mode): when the watched price reaches one, the whole position
        closes at MARKET. The venue resizes them with the position and deactivates them when it closes;
        they show as the position's ``take_profit`` / ``stop_loss`` and as orders of their own
        (UNTRIGGERED, no client id). Each is an :class:`Exit` without ``price`` (its
        ``trigger_by`` is kept) or just a trigger price; ``0`` removes it, ``None`` leaves it
        as it is. A long's take-profit must be above the last price and its stop-loss below (a
        short's the other way round): the venue's refusal, like having no position, is
        :class:`InvalidOrder` rule ``exits``.

        ``trailing_stop`` is a price distance (on the tick grid): once active — at once, or
        when the last price reaches ``activation_price`` — its trigger stays that far behind
        the best price since (below the highest for a long, above the lowest for a short) and
        the position closes when the price comes back that far; ``0`` removes it. It shows as
        ``Position.trailing_stop`` and as an order of its own whose ``trigger_price`` moves
        (its activation price until active).

        Returns the position as the venue then reports it. Other markets raise
        :class:`InvalidArgument`."""
        return await self._trader().set_position_exits(
            symbol, take_profit=_exit(take_profit), stop_loss=_exit(stop_loss), trailing_stop=trailing_stop,
            activation_price=activation_price, position_side=position_side,
        )  # fmt: skip

    async def set_leverage(self, symbol: str, leverage: int | Decimal | str) -> Decimal:
        """Sets ``symbol``'s leverage (a whole number from 1 to the symbol's maximum) and
        returns it as the venue then reports it. Derivatives markets only; spot raises
        :class:`InvalidArgument`."""
        return Decimal(await self._trader().set_leverage(symbol, leverage))

    async def set_margin_mode(self, mode: MarginMode | str, symbol: str | None = None) -> None:
        """Cross or isolated margin (``PORTFOLIO`` on Bybit), scoped as the venue scopes it:
        per symbol on Binance USD-M (``symbol`` required), for the whole unified account on
        Bybit (``symbol`` must be ``None``); the wrong scope raises :class:`InvalidArgument`
        saying which. Setting what is set already succeeds. The venue refuses a change while a
        position or order is open (:class:`ExchangeError` with its code and reason)."""
        await self._trader().set_margin_mode(MarginMode.parse(mode), symbol)

    async def set_position_mode(self, mode: PositionMode | str, symbol: str | None = None) -> None:
        """One-way or hedge mode: for the whole account on Binance USD-M (``symbol`` must be
        ``None``); per symbol on Bybit, or with ``None`` every USDT perpetual that has no
        position or open order. Setting what is set already succeeds; the venue refuses a
        change while a position or order is open."""
        await self._trader().set_position_mode(PositionMode.parse(mode), symbol)

    async def settings(self, symbol: str) -> PositionSettings:
        """``symbol``'s leverage, margin mode and position mode as the venue reports them."""
        name, leverage, margin, position = await self._trader().settings(symbol)
        return PositionSettings(name, Decimal(leverage), MarginMode(margin), PositionMode(position))

    async def symbols(self) -> list[SymbolInfo]:
        """Every listed symbol's trading rules, by name order (cached; read again every 10 min)."""
        return await self.native.symbols()

    def server_time_ms(self) -> int:
        """The venue's clock (Unix ms), as the clock sync estimates it."""
        return self.native.server_time_ms()

    def health(self) -> Health:
        """The connector's state now: breaker, clock, rate limits, connections, subscriptions,
        books and order reports (see :class:`Health`)."""
        raw = self.native.health()
        return Health(
            **raw
            | {
                "venue": Venue(raw["venue"]),
                "market": Market(raw["market"]),
                "limits": tuple(LimitHealth(**limit) for limit in raw["limits"]),
                "connections": tuple(
                    ConnectionHealth(**c | {"topics": tuple(c["topics"])}) for c in raw["connections"]
                ),
                "subscriptions": tuple(tuple(s) for s in raw["subscriptions"]),
                "books": tuple(BookHealth(**book) for book in raw["books"]),
                "order_entry": None if raw["order_entry"] is None else OrderEntryHealth(**raw["order_entry"]),
            }
        )

    def raw_stream(self, *topics: str, capacity: int = 65_536) -> Stream[str | Gap]:
        """The venue's own messages of ``topics`` (Binance stream names such as
        ``btcusdt@trade``, Bybit topics such as ``publicTrade.BTCUSDT``) as received: Binance's
        combined-stream envelopes, Bybit's topic messages. Connections are supervised like every
        other stream (reconnect, resubscribe, rotation); a reader that falls ``capacity``
        messages or 64 MiB of them behind gets a :class:`Gap`. Leaving the loop ends the
        subscription."""
        return Stream(self.native.raw_stream(list(topics), capacity=capacity))

    def events(self) -> AsyncIterator[ConnectorEvent]:
        """Connection events from this call on (the subscription starts now, not at the first
        ``anext``), until the connector closes."""
        return _events(self.native.events())


class Binance(_Connector):
    """Binance spot (``market="spot"``) or USD-M futures (``market="usdm"``)."""

    _venue = Venue.BINANCE
    _markets = ("spot", "usdm")

    def __init__(self, market: BinanceMarket = "spot", **options: Unpack[ConnectorOptions]) -> None:
        super().__init__(market, **options)

    @staticmethod
    def _preset(market: str, testnet: bool) -> Endpoints:
        return Endpoints.binance(market, testnet)  # type: ignore[arg-type]


class Bybit(_Connector):
    """Bybit v5, category ``spot`` or ``linear``."""

    _venue = Venue.BYBIT
    _markets = ("spot", "linear")

    def __init__(self, market: BybitMarket = "linear", **options: Unpack[ConnectorOptions]) -> None:
        super().__init__(market, **options)

    @staticmethod
    def _preset(market: str, testnet: bool) -> Endpoints:
        return Endpoints.bybit(market, testnet)  # type: ignore[arg-type]


async def _events(subscription: _native.NativeEvents) -> AsyncIterator[ConnectorEvent]:
    while (event := await subscription.next()) is not None:
        kind, fields = event
        yield ConnectorEvent(ConnectorEventKind(kind), dict(fields))


def _millis(name: str, seconds: float) -> int:
    """A duration keyword in whole milliseconds; refuses non-numbers, non-positive values, and
    values above the keyword's ceiling (most likely milliseconds given for seconds)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float | Decimal):
        raise TypeError(f"{name} must be a number of seconds, not {type(seconds).__name__}")
    if not seconds > 0:
        raise InvalidArgument(f"{name} must be a positive number of seconds, not {seconds!r}", field=name)
    ceiling = _CEILINGS.get(name, 600.0)
    if seconds > ceiling:
        raise InvalidArgument(
            f"{name}={seconds!r} is more than {ceiling:g} s: durations are in seconds "
            f"(for {seconds!r} ms, pass {name}={float(seconds) / 1000:g})",
            field=name,
        )
    return max(1, round(float(seconds) * 1000))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_ms(name: str, value: int | datetime | None) -> int | None:
    """A time keyword as Unix ms: an int as is, an aware datetime converted; a naive datetime
    (whose zone is a guess) raises :class:`InvalidArgument`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidArgument(
                f"{name} must be timezone-aware (e.g. tzinfo=UTC), not {value!r}", field=name
            )
        return (value - _EPOCH) // timedelta(milliseconds=1)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be Unix milliseconds (int) or a datetime, not {type(value).__name__}")
    return value


def _count(name: str, value: int, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if not 1 <= value <= most:
        raise InvalidArgument(f"{name} must be between 1 and {most}, not {value}", field=name)
    return value


__all__ = [
    "Binance",
    "BookHealth",
    "Bybit",
    "ConnectionHealth",
    "ConnectorEvent",
    "ConnectorEventKind",
    "ConnectorOptions",
    "Health",
    "LimitHealth",
]

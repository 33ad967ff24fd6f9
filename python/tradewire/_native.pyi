"""Hand-written stubs of the Rust extension; checked by stubtest in `make check`.

The native layer under tradewire's public API (most of it re-exported by :mod:`tradewire`).
Conventions throughout:

- Money comes out as :class:`decimal.Decimal` with the venue's exact digits, and goes in as
  ``Decimal``, ``str`` or ``int``: a ``float`` or ``bool`` raises ``TypeError``, text that is no
  exact decimal raises :class:`~tradewire.InvalidArgument` naming the field.
- An enum argument takes a member of :mod:`tradewire.enums` or its text in any case; other text
  raises :class:`~tradewire.InvalidArgument`, a non-``str`` ``TypeError``.
- ``*_ms`` times are Unix milliseconds (venue time), ``local_time_ns`` the local wall clock in
  Unix nanoseconds when the message was received; durations passed in are milliseconds.
- ``Awaitable`` results are asyncio awaitables of work run on the shared Tokio runtime; a core
  failure raises the matching :mod:`tradewire.errors` exception. Anything that needs the
  runtime raises :class:`~tradewire.ForkedProcessError` in a ``fork()``-ed child and
  :class:`~tradewire.StreamClosed` after :func:`shutdown`.
"""

import os
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias, final

from tradewire.enums import (
    Interval,
    IntervalName,
    LegName,
    Market,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
    SideName,
    TimeInForce,
    TimeInForceName,
    TriggerBy,
    TriggerByName,
    TriggerDirection,
    TriggerKind,
    Venue,
)
from tradewire.errors import TradewireError

#: The extension's version (the Rust crate's).
__version__: str
#: The order statuses nothing leaves (the core's rule, behind `OrderStatus.is_terminal`).
TERMINAL_ORDER_STATUSES: list[str]
__all__ = [
    "TERMINAL_ORDER_STATUSES",
    "AggTrade",
    "Balance",
    "Bbo",
    "BookDiff",
    "BookView",
    "Exit",
    "Fill",
    "FundingRate",
    "Gap",
    "Kline",
    "Level",
    "Liquidation",
    "LoopWaker",
    "MarkPrice",
    "MergedBook",
    "MergedLevel",
    "MergedView",
    "NativeAggregator",
    "NativeConnector",
    "NativeEvents",
    "NativeGateway",
    "NativeHistory",
    "NativeRecorder",
    "NativeRecording",
    "NativeRemote",
    "NativeReplay",
    "NativeSimulator",
    "NativeStream",
    "OpenInterest",
    "Order",
    "OrderBook",
    "OrderUpdate",
    "Position",
    "Producer",
    "Quote",
    "SymbolInfo",
    "Ticker",
    "TopOfBook",
    "Trade",
    "__version__",
    "arm_fault",
    "emit_test_log",
    "panicking_call",
    "raise_core_error",
    "refresh_log_level",
    "runtime_started",
    "shutdown",
    "synthetic_stream",
    "worker_threads",
]

#: A money argument: exact decimal text, ``Decimal`` or ``int`` (never ``float``).
_Money: TypeAlias = Decimal | str | int
#: One amendment of a batch: order id, client order id, qty, price.
_AmendItem: TypeAlias = tuple[str | None, str | None, _Money | None, _Money | None]
#: One order of a batch: symbol, side, type, qty, quote_qty, price, time in force, post-only,
#: reduce-only, hedge-mode leg, client order id.
_BatchItem: TypeAlias = tuple[
    str,
    SideName,
    OrderType,
    _Money | None,
    _Money | None,
    _Money | None,
    TimeInForceName | None,
    bool,
    bool,
    LegName | None,
    str | None,
]

class _Sourced:
    """Where an event came from: venue, market and the venue's symbol."""

    @property
    def venue(self) -> Venue:
        """The venue that sent it."""
    @property
    def market(self) -> Market:
        """The venue's market (product line) it belongs to."""
    @property
    def symbol(self) -> str:
        """The venue's symbol name, e.g. ``BTCUSDT``."""

@final
class NativeRecorder:
    """A recorder attached to a connector (:class:`tradewire.Recorder` wraps it)."""

    def __new__(
        cls,
        connector: NativeConnector,
        dir: str,
        symbols: list[str],
        channels: list[str],
        rotate_bytes: int,
        rotate_seconds: float,
        flush_ms: int = 1000,
    ) -> NativeRecorder: ...
    def record_listing(self) -> Awaitable[None]:
        """Reads the symbol listing afresh, so the recording holds it."""
    def stats(self) -> dict[str, Any]:
        """``entries``, ``raw_bytes``, ``bytes``, ``files``, ``lost``, ``error``."""
    def close(self) -> dict[str, Any]:
        """Detaches, writes what is queued, closes the files (blocking); the final stats."""

@final
class NativeReplay:
    """A recording served on loopback (:class:`tradewire.Replay` wraps it)."""

    def __new__(
        cls, dir: str, speed: float | None = None, start_ns: int | None = None, end_ns: int | None = None
    ) -> NativeReplay: ...
    @property
    def rest(self) -> str: ...
    @property
    def ws(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def market(self) -> str: ...
    @property
    def messages(self) -> int:
        """Recorded messages served."""
    def close(self) -> None: ...

@final
class NativeRecording:
    """A recording opened for reading (:class:`tradewire.RecordingReader` wraps it)."""

    def __new__(cls, dir: str, start_ns: int | None = None, end_ns: int | None = None) -> NativeRecording: ...
    def meta(self) -> dict[str, Any]: ...
    def segments(self) -> list[tuple[str, int | None, int | None, int | None]]: ...
    def next_batch(self, n: int) -> list[tuple[int, str, str, str, str]]:
        """Up to ``n`` next entries as ``(at_ns, conn, kind, path, text)``; empty at the end."""
    def damage(self) -> list[tuple[str, int, str]]: ...

@final
class NativeHistory:
    """A history walk (:class:`tradewire.history.HistoryWalk` wraps it)."""

    def next_page(self) -> Awaitable[Any]:
        """The next page (a list of :class:`Kline`, :class:`FundingRate`, :class:`AggTrade`,
        :class:`Fill` or :class:`Order`, oldest first), or None once the range is read."""
    @property
    def cursor_ms(self) -> int:
        """Where the walk goes on from (Unix ms)."""
    @property
    def start_ms(self) -> int: ...
    @property
    def end_ms(self) -> int: ...

@final
class MarkPrice(_Sourced):
    """A derivative's mark and index price and coming funding; events of
    :meth:`tradewire.Binance.mark_prices`, answer of :meth:`tradewire.Binance.mark_price`. A
    contract without funding (a delivery future) has neither rate nor next time. Frozen; equal
    and hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        mark_price: _Money,
        index_price: _Money | None = None,
        estimated_settle_price: _Money | None = None,
        funding_rate: _Money | None = None,
        next_funding_time_ms: int | None = None,
        open_interest: _Money | None = None,
        exchange_time_ms: int = 0,
        local_time_ns: int = 0,
    ) -> MarkPrice: ...
    @property
    def mark_price(self) -> Decimal: ...
    @property
    def index_price(self) -> Decimal | None: ...
    @property
    def estimated_settle_price(self) -> Decimal | None:
        """Binance's estimated settle price; None on Bybit."""
    @property
    def funding_rate(self) -> Decimal | None:
        """The rate of the coming funding (a fraction: 0.0001 is 0.01%)."""
    @property
    def next_funding_time_ms(self) -> int | None: ...
    @property
    def open_interest(self) -> Decimal | None:
        """Contracts open (base asset) where the same message says it (Bybit); else None."""
    @property
    def exchange_time_ms(self) -> int: ...
    @property
    def local_time_ns(self) -> int: ...

@final
class FundingRate(_Sourced):
    """One funding that took place; items of :meth:`tradewire.Binance.funding_rates`. Frozen;
    equal and hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        rate: _Money,
        funding_time_ms: int,
        mark_price: _Money | None = None,
    ) -> FundingRate: ...
    @property
    def rate(self) -> Decimal: ...
    @property
    def funding_time_ms(self) -> int: ...
    @property
    def mark_price(self) -> Decimal | None:
        """The mark price then (Binance); None on Bybit."""

@final
class OpenInterest(_Sourced):
    """A derivative's open interest; answer of :meth:`tradewire.Binance.open_interest`. Frozen;
    equal and hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        open_interest: _Money,
        exchange_time_ms: int,
        local_time_ns: int = 0,
    ) -> OpenInterest: ...
    @property
    def open_interest(self) -> Decimal:
        """Contracts open, in the base asset."""
    @property
    def exchange_time_ms(self) -> int: ...
    @property
    def local_time_ns(self) -> int: ...

@final
class Liquidation(_Sourced):
    """A forced liquidation; events of :meth:`tradewire.Binance.liquidations`. Frozen; equal and
    hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        position_side: PositionSide,
        price: _Money,
        qty: _Money,
        exchange_time_ms: int,
        average_price: _Money | None = None,
        local_time_ns: int = 0,
    ) -> Liquidation: ...
    @property
    def position_side(self) -> PositionSide:
        """The position liquidated: LONG (closed by a sell) or SHORT."""
    @property
    def price(self) -> Decimal:
        """Binance: the liquidation order's price; Bybit: the bankruptcy price."""
    @property
    def qty(self) -> Decimal: ...
    @property
    def average_price(self) -> Decimal | None:
        """Binance's average fill price; None on Bybit."""
    @property
    def exchange_time_ms(self) -> int: ...
    @property
    def local_time_ns(self) -> int: ...

@final
class AggTrade(_Sourced):
    """An aggregated trade (Binance ``aggTrade``): one taker order's fills at one price; events
    of :meth:`tradewire.Binance.agg_trades`. Frozen; equal and hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        agg_id: int,
        price: _Money,
        qty: _Money,
        side: Side,
        exchange_time_ms: int,
        first_trade_id: int | None = None,
        last_trade_id: int | None = None,
        local_time_ns: int = 0,
    ) -> AggTrade: ...
    @property
    def agg_id(self) -> int:
        """The aggregate's id (``a``; in old recordings without it, its first trade's id)."""
    @property
    def first_trade_id(self) -> int | None: ...
    @property
    def last_trade_id(self) -> int | None: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def qty(self) -> Decimal:
        """The quantity of all its fills (base asset)."""
    @property
    def side(self) -> Side:
        """The aggressor's side."""
    @property
    def exchange_time_ms(self) -> int: ...
    @property
    def local_time_ns(self) -> int: ...

@final
class TopOfBook(_Sourced):
    """The best bid and offer of one venue's book; events of :meth:`tradewire.Binance.bbo`. A
    side without a level is None, and both are while the book is out of sync (Bybit). Frozen;
    equal and hashable by value."""

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        bid: Level | None = None,
        ask: Level | None = None,
        update_id: int | None = None,
        exchange_time_ms: int = 0,
        local_time_ns: int = 0,
    ) -> TopOfBook: ...
    @property
    def bid(self) -> Level | None: ...
    @property
    def ask(self) -> Level | None: ...
    @property
    def update_id(self) -> int | None:
        """The venue's update id (Binance and Bybit ``u``); None while out of sync."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time; 0 where it does not stamp it (Binance spot)."""
    @property
    def local_time_ns(self) -> int: ...

@final
class Kline(_Sourced):
    """One candle; events of :meth:`tradewire.Binance.kline_updates` and items of
    :meth:`tradewire.Binance.klines`. Open while ``closed`` is False (its close, high, low and
    volumes so far), final once closed.

    Frozen; equal and hashable by value. The keyword constructor is for tests and replays.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        interval: IntervalName,
        open_time_ms: int,
        close_time_ms: int,
        open: _Money,
        high: _Money,
        low: _Money,
        close: _Money,
        volume: _Money,
        quote_volume: _Money,
        closed: bool,
        trades: int | None = None,
        taker_buy_volume: _Money | None = None,
        taker_buy_quote_volume: _Money | None = None,
        exchange_time_ms: int = 0,
        local_time_ns: int = 0,
    ) -> Kline: ...
    @property
    def interval(self) -> Interval: ...
    @property
    def open_time_ms(self) -> int:
        """The candle's first millisecond (UTC-aligned; weeks from Monday, months from the 1st)."""
    @property
    def close_time_ms(self) -> int:
        """The candle's last millisecond."""
    @property
    def open(self) -> Decimal: ...
    @property
    def high(self) -> Decimal: ...
    @property
    def low(self) -> Decimal: ...
    @property
    def close(self) -> Decimal:
        """The last price (so far, while open)."""
    @property
    def volume(self) -> Decimal:
        """Traded quantity in the base asset."""
    @property
    def quote_volume(self) -> Decimal:
        """Traded value in the quote asset."""
    @property
    def trades(self) -> int | None:
        """Number of trades (Binance); None where the venue does not say (Bybit)."""
    @property
    def taker_buy_volume(self) -> Decimal | None:
        """Base volume bought by takers (Binance); None on Bybit."""
    @property
    def taker_buy_quote_volume(self) -> Decimal | None: ...
    @property
    def closed(self) -> bool:
        """Final: the candle's time is over."""
    @property
    def exchange_time_ms(self) -> int:
        """When the venue sent it (REST candles: their close time)."""
    @property
    def local_time_ns(self) -> int: ...

@final
class Trade(_Sourced):
    """A public trade; events of :meth:`tradewire.Binance.trades` / :meth:`tradewire.Bybit.trades`.

    Frozen; equal and hashable by value. The keyword constructor is for tests and replays.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        trade_id: str,
        price: _Money,
        qty: _Money,
        side: Side,
        exchange_time_ms: int,
        local_time_ns: int = 0,
    ) -> Trade: ...
    @property
    def trade_id(self) -> str:
        """The venue's trade id, as text (Binance's are integers, Bybit's UUIDs)."""
    @property
    def price(self) -> Decimal:
        """The traded price."""
    @property
    def qty(self) -> Decimal:
        """The traded quantity (base asset)."""
    @property
    def side(self) -> Side:
        """The aggressor's side."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's trade time, Unix ms."""
    @property
    def local_time_ns(self) -> int:
        """Local wall-clock time the message was received, Unix ns (0 if not set)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Ticker(_Sourced):
    """A 24 h rolling ticker; events of :meth:`tradewire.Binance.tickers` (Bybit's partial
    updates arrive folded into full tickers).

    Frozen; equal and hashable by value. The keyword constructor is for tests and replays.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        last: _Money,
        volume_24h: _Money,
        quote_volume_24h: _Money,
        exchange_time_ms: int,
        bid: _Money | None = None,
        bid_qty: _Money | None = None,
        ask: _Money | None = None,
        ask_qty: _Money | None = None,
        local_time_ns: int = 0,
    ) -> Ticker: ...
    @property
    def last(self) -> Decimal:
        """The last traded price."""
    @property
    def bid(self) -> Decimal | None:
        """The best bid price; None where the venue's ticker lacks it."""
    @property
    def bid_qty(self) -> Decimal | None:
        """The quantity at the best bid; None where the venue's ticker lacks it."""
    @property
    def ask(self) -> Decimal | None:
        """The best ask price; None where the venue's ticker lacks it."""
    @property
    def ask_qty(self) -> Decimal | None:
        """The quantity at the best ask; None where the venue's ticker lacks it."""
    @property
    def volume_24h(self) -> Decimal:
        """Volume traded over 24 h, in the base asset."""
    @property
    def quote_volume_24h(self) -> Decimal:
        """Volume traded over 24 h, in the quote asset (Bybit's turnover)."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's event time, Unix ms."""
    @property
    def local_time_ns(self) -> int:
        """Local wall-clock time the message was received, Unix ns (0 if not set)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Level:
    """One price level of an order book. Frozen; equal and hashable by value."""

    def __new__(cls, price: _Money, qty: _Money) -> Level: ...
    @property
    def price(self) -> Decimal:
        """The level's price."""
    @property
    def qty(self) -> Decimal:
        """The quantity resting at that price (base asset)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class BookView(_Sourced):
    """A book at one update: its best levels a side and whether it is in sync; events of
    :meth:`tradewire.Binance.book_updates` and :meth:`OrderBook.snapshot`.

    An unsynced view has no levels: nothing is shown that might be wrong. Frozen; equal by value
    (not hashable).
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def is_synced(self) -> bool:
        """Whether the book was in sync with the venue at this update."""
    @property
    def update_id(self) -> int | None:
        """The venue's id of the last update applied (Binance ``u``/``lastUpdateId``, Bybit
        ``u``); None while unsynced."""
    @property
    def bids(self) -> list[Level]:
        """Bid levels, best (highest) first."""
    @property
    def asks(self) -> list[Level]:
        """Ask levels, best (lowest) first."""
    @property
    def best_bid(self) -> Level | None:
        """The highest bid; None if there is none (or the view is unsynced)."""
    @property
    def best_ask(self) -> Level | None:
        """The lowest ask; None if there is none (or the view is unsynced)."""
    @property
    def mid(self) -> Decimal | None:
        """``(best bid + best ask) / 2``; None unless both sides have a level."""
    @property
    def spread(self) -> Decimal | None:
        """``best ask - best bid``; None unless both sides have a level."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time of the last update applied, Unix ms."""
    @property
    def local_time_ns(self) -> int:
        """Local wall-clock time that update was received, Unix ns."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class BookDiff(_Sourced):
    """One change of a book, as :meth:`tradewire.Binance.book_diffs` delivers every one: the
    levels the venue's message set, quantity 0 for a removed level. A reset starts the book
    over (the first diff, each resync, a loss of sync): drop every level, then apply this
    diff's. Frozen; equal by value (not hashable).
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def is_synced(self) -> bool:
        """Whether the book is in sync after this diff; out of sync, diffs carry no levels
        until the next reset."""
    @property
    def is_reset(self) -> bool:
        """Every level went before this diff's: start the book over."""
    @property
    def update_id(self) -> int | None:
        """The venue's id of the last update applied; None while unsynced."""
    @property
    def bids(self) -> list[Level]:
        """Bid levels this diff set, in the order the book changed them."""
    @property
    def asks(self) -> list[Level]:
        """Ask levels this diff set, in the order the book changed them."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time of the last update applied, Unix ms."""
    @property
    def local_time_ns(self) -> int:
        """Local wall-clock time that update was received, Unix ns."""
    def __eq__(self, other: object, /) -> bool: ...

@final
class OrderBook:
    """A handle on a live order book kept in sync in Rust; returned by
    :meth:`tradewire.Binance.book` / :meth:`tradewire.Bybit.book`.

    Every read takes the book's lock once, so what one call returns belongs to one update. While
    the book is out of sync, or after :meth:`close`, reads show no levels (``is_synced`` False,
    ``update_id`` None). A context manager: leaving ``with`` closes the handle.
    """

    @property
    def venue(self) -> Venue:
        """The venue of the book."""
    @property
    def market(self) -> Market:
        """The venue's market of the book."""
    @property
    def symbol(self) -> str:
        """The venue's symbol name."""
    @property
    def depth(self) -> int:
        """Levels a side this handle shows (the shared book may keep more)."""
    @property
    def is_synced(self) -> bool:
        """Whether the handle is open and the book in sync with the venue."""
    @property
    def is_stale(self) -> bool:
        """Whether the book, in sync, has applied nothing for the connector's
        ``book_stale_after`` seconds (its stream may have gone quiet at the venue; a
        ``book_stale`` event told it). Cleared by the next update applied."""
    @property
    def update_id(self) -> int | None:
        """The venue's id of the last update applied; None while unsynced or closed."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time of the last update applied, Unix ms."""
    @property
    def mid(self) -> Decimal | None:
        """``(best bid + best ask) / 2`` at one update; None unless both sides have a level."""
    @property
    def spread(self) -> Decimal | None:
        """``best ask - best bid`` at one update; None unless both sides have a level."""
    def best_bid(self) -> Level | None:
        """The highest bid; None if none, unsynced or closed."""
    def best_ask(self) -> Level | None:
        """The lowest ask; None if none, unsynced or closed."""
    def bids(self, n: int | None = None) -> list[Level]:
        """The best ``n`` bids (at most :attr:`depth`; None: ``depth``), best first; empty while
        unsynced or closed."""
    def asks(self, n: int | None = None) -> list[Level]:
        """The best ``n`` asks (at most :attr:`depth`; None: ``depth``), best first; empty while
        unsynced or closed."""
    def snapshot(self, n: int | None = None) -> BookView:
        """Both sides' best ``n`` levels (at most :attr:`depth`; None: ``depth``) at one update,
        as a :class:`BookView` (unsynced and empty after :meth:`close`)."""
    def stats(self) -> tuple[int, int, int, str | None]:
        """``(applied, ignored, resyncs, last_reason)`` so far: messages applied (snapshots
        included), messages dropped as already seen or older, times it lost sync, and why it
        last lost sync."""
    def close(self) -> None:
        """Releases the handle; the subscription ends once no handle or stream reads the book.
        Idempotent."""
    def __enter__(self) -> OrderBook:
        """Returns the handle itself."""
    def __exit__(self, exc_type: object | None, exc: object | None, tb: object | None) -> None:
        """Closes the handle."""

@final
class SymbolInfo(_Sourced):
    """A symbol's trading rules; from :meth:`tradewire.Binance.symbol_info` and
    :meth:`tradewire.Binance.symbols`. The venue's raw filters are kept in :attr:`filters` for
    anything not modelled.

    Frozen; equal by value (not hashable: it holds the raw filters). The keyword constructor is
    for tests; ``raw_filters`` is JSON text (default ``"[]"``).
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        base_asset: str,
        quote_asset: str,
        status: str,
        trading: bool,
        tick_size: _Money,
        step_size: _Money,
        min_qty: _Money,
        price_precision: int,
        qty_precision: int,
        max_qty: _Money | None = None,
        min_notional: _Money | None = None,
        market_min_qty: _Money | None = None,
        market_max_qty: _Money | None = None,
        raw_filters: str = ...,
    ) -> SymbolInfo: ...
    @property
    def base_asset(self) -> str:
        """The asset quantities are in, e.g. ``BTC``."""
    @property
    def quote_asset(self) -> str:
        """The asset prices are in, e.g. ``USDT``."""
    @property
    def status(self) -> str:
        """The venue's status word, verbatim (``TRADING``, ``Trading``, ``HALT``, ...)."""
    @property
    def trading(self) -> bool:
        """Whether the symbol is open for trading now."""
    @property
    def tick_size(self) -> Decimal:
        """Prices must be a multiple of this."""
    @property
    def step_size(self) -> Decimal:
        """Quantities must be a multiple of this."""
    @property
    def min_qty(self) -> Decimal:
        """The smallest order quantity."""
    @property
    def max_qty(self) -> Decimal | None:
        """The largest order quantity, if the venue sets one."""
    @property
    def min_notional(self) -> Decimal | None:
        """The smallest ``price * qty`` of an order (quote asset), if the venue sets one."""
    @property
    def market_min_qty(self) -> Decimal | None:
        """The smallest MARKET order quantity where it differs (Binance ``MARKET_LOT_SIZE``)."""
    @property
    def market_max_qty(self) -> Decimal | None:
        """The largest MARKET order quantity where it differs (Binance ``MARKET_LOT_SIZE``)."""
    @property
    def price_precision(self) -> int:
        """Decimal places of :attr:`tick_size`."""
    @property
    def qty_precision(self) -> int:
        """Decimal places of :attr:`step_size`."""
    @property
    def canonical(self) -> str:
        """``BASE/QUOTE`` (spot) or ``BASE/QUOTE:SETTLE`` (linear perpetual): the name every
        connector and the :class:`~tradewire.Aggregator` also accept."""
    @property
    def filters(self) -> Any:
        """The venue's filter objects as received, parsed from JSON on each read (numbers stay
        strings, as sent)."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

@final
class Exit:
    """A take-profit or stop-loss attached to an entry order (Bybit linear): when the entry
    fills, the venue places a reduce-only order closing what filled once the ``trigger_by``
    price reaches ``trigger_price`` — MARKET, or LIMIT at ``price``.

    Frozen; equal and hashable by value.
    """

    def __new__(
        cls, trigger_price: _Money, price: _Money | None = None, trigger_by: TriggerByName | None = None
    ) -> Exit: ...
    @property
    def trigger_price(self) -> Decimal:
        """The price that fires it."""
    @property
    def price(self) -> Decimal | None:
        """The LIMIT price it closes at once triggered; None: MARKET."""
    @property
    def trigger_by(self) -> TriggerBy:
        """The price it watches (LAST unless given)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Order(_Sourced):
    """An order as last known, through tradewire's one order state machine (a status never
    moves backwards, the filled quantity never falls); returned by the connectors' order calls.

    Frozen; equal and hashable by value. The keyword constructor is for tests; ``filled_qty``
    None means 0.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        client_order_id: str,
        side: Side,
        order_type: OrderType,
        status: OrderStatus,
        order_id: str = "",
        time_in_force: TimeInForce | None = None,
        price: _Money | None = None,
        qty: _Money | None = None,
        quote_qty: _Money | None = None,
        filled_qty: _Money | None = None,
        avg_price: _Money | None = None,
        reduce_only: bool = False,
        position_side: PositionSide | None = None,
        trigger_price: _Money | None = None,
        trigger_direction: TriggerDirection | None = None,
        trigger_by: TriggerBy | None = None,
        created_time_ms: int = 0,
        updated_time_ms: int = 0,
        reject_reason: str | None = None,
        take_profit: Exit | None = None,
        stop_loss: Exit | None = None,
        parent_client_order_id: str | None = None,
        callback_rate: _Money | None = None,
    ) -> Order: ...
    @property
    def reject_reason(self) -> str | None:
        """Why it ended without trading, where known: the venue's own reason (Bybit
        ``rejectReason`` such as ``EC_PostOnlyWillTakeLiquidity``, Binance spot's execution
        report ``r``), or the error that refused the place; None otherwise."""
    @property
    def trigger_price(self) -> Decimal | None:
        """A conditional order's trigger price (a trailing stop's activation price); None for an
        order that went to the book at once, or a trailing stop active from placement."""
    @property
    def callback_rate(self) -> Decimal | None:
        """A trailing stop's callback rate, in percent of the best price since it became
        active; None for other orders."""
    @property
    def trigger_direction(self) -> TriggerDirection | None:
        """Which way the watched price must move to reach the trigger; None if not a
        conditional order or not known."""
    @property
    def trigger_by(self) -> TriggerBy | None:
        """The price the trigger watches."""
    @property
    def trigger_kind(self) -> TriggerKind | None:
        """STOP or TAKE_PROFIT, from the trigger's direction and the order's side."""
    @property
    def take_profit(self) -> Exit | None:
        """The take-profit attached to this entry (Bybit linear), as the venue reports it."""
    @property
    def stop_loss(self) -> Exit | None:
        """The stop-loss attached to this entry (Bybit linear), as the venue reports it."""
    @property
    def parent_client_order_id(self) -> str | None:
        """For a take-profit or stop-loss the venue placed for an entry: the entry's client
        order id (this order has none of its own: its ``client_order_id`` is its
        ``order_id``); None otherwise."""
    @property
    def order_id(self) -> str:
        """The venue's order id; empty until the venue acknowledged the order."""
    @property
    def client_order_id(self) -> str:
        """The client order id every order carries (generated unless the caller gave one)."""
    @property
    def side(self) -> Side:
        """BUY or SELL."""
    @property
    def order_type(self) -> OrderType:
        """LIMIT or MARKET."""
    @property
    def time_in_force(self) -> TimeInForce | None:
        """How long the order rests (``POST_ONLY`` for a maker-only order); None if unknown."""
    @property
    def price(self) -> Decimal | None:
        """The limit price; None for a market order."""
    @property
    def qty(self) -> Decimal | None:
        """The ordered quantity (base asset); None for a spot market order by ``quote_qty``."""
    @property
    def quote_qty(self) -> Decimal | None:
        """Spot market orders by amount: the quote asset to spend."""
    @property
    def filled_qty(self) -> Decimal:
        """The quantity filled so far (base asset)."""
    @property
    def avg_price(self) -> Decimal | None:
        """The average fill price; None before any fill."""
    @property
    def status(self) -> OrderStatus:
        """The status; UNKNOWN when a write's outcome could not be learnt (``order()`` or the
        order stream resolves it)."""
    @property
    def reduce_only(self) -> bool:
        """Whether the order may only reduce a position (derivatives): asked for, or a
        hedge-mode order closing its leg (SELL on LONG, BUY on SHORT)."""
    @property
    def position_side(self) -> PositionSide | None:
        """The hedge-mode leg it trades (LONG or SHORT); None in one-way mode."""
    @property
    def created_time_ms(self) -> int:
        """When the venue created the order, Unix ms (0 if not known)."""
    @property
    def updated_time_ms(self) -> int:
        """When the order last changed at the venue, Unix ms (0 if not known)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Fill(_Sourced):
    """One execution of an order, with its fee; carried by :attr:`OrderUpdate.fill`.

    Frozen; equal and hashable by value.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        order_id: str,
        client_order_id: str,
        trade_id: str,
        side: Side,
        price: _Money,
        qty: _Money,
        fee: _Money,
        fee_asset: str,
        is_maker: bool,
        exchange_time_ms: int,
    ) -> Fill: ...
    @property
    def order_id(self) -> str:
        """The venue's id of the order filled."""
    @property
    def client_order_id(self) -> str:
        """The client order id of the order filled."""
    @property
    def trade_id(self) -> str:
        """The venue's id of the execution, as text."""
    @property
    def side(self) -> Side:
        """The order's side."""
    @property
    def price(self) -> Decimal:
        """The execution price."""
    @property
    def qty(self) -> Decimal:
        """The quantity executed (base asset)."""
    @property
    def fee(self) -> Decimal:
        """The fee charged, in :attr:`fee_asset`, as the venue reports it."""
    @property
    def fee_asset(self) -> str:
        """The asset the fee is charged in."""
    @property
    def is_maker(self) -> bool:
        """Whether the order was the resting (maker) side."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's execution time, Unix ms."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class OrderUpdate:
    """A change of one order, wherever it was learnt (a write's answer, the user stream, a REST
    reconciliation); events of :meth:`tradewire.Binance.order_updates`.

    Frozen; equal and hashable by value.
    """

    def __new__(cls, order: Order, fill: Fill | None = None) -> OrderUpdate: ...
    @property
    def order(self) -> Order:
        """The order's state after the change."""
    @property
    def fill(self) -> Fill | None:
        """The execution that caused the change, if any."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Balance:
    """Funds of one asset on a venue market (Bybit: the unified account's wallet); from
    :meth:`tradewire.Binance.balances` and ``balance_updates()``.

    Frozen; equal and hashable by value.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        asset: str,
        free: _Money,
        locked: _Money,
        exchange_time_ms: int = 0,
    ) -> Balance: ...
    @property
    def venue(self) -> Venue:
        """The venue holding the funds."""
    @property
    def market(self) -> Market:
        """The venue's market (account) holding the funds."""
    @property
    def asset(self) -> str:
        """The asset, e.g. ``USDT``."""
    @property
    def free(self) -> Decimal:
        """Available funds."""
    @property
    def locked(self) -> Decimal:
        """Funds held (by open orders, for instance)."""
    @property
    def total(self) -> Decimal:
        """``free + locked``."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time of the report, Unix ms (0 if not known)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Position(_Sourced):
    """A position on a derivatives market (a symbol's one position in one-way mode, one of its
    two legs in hedge mode): :attr:`size` is absolute, :attr:`side` gives the direction (a
    closed position is FLAT, size 0); from
    :meth:`tradewire.Binance.positions` and ``position_updates()``.

    Frozen; equal and hashable by value.
    """

    def __new__(
        cls,
        *,
        venue: Venue,
        market: Market,
        symbol: str,
        side: PositionSide,
        size: _Money,
        entry_price: _Money,
        unrealized_pnl: _Money,
        leverage: _Money,
        position_side: PositionSide | None = None,
        liquidation_price: _Money | None = None,
        mark_price: _Money | None = None,
        realized_pnl: _Money | None = None,
        initial_margin: _Money | None = None,
        maintenance_margin: _Money | None = None,
        exchange_time_ms: int = 0,
        take_profit: _Money | None = None,
        stop_loss: _Money | None = None,
        trailing_stop: _Money | None = None,
    ) -> Position: ...
    @property
    def side(self) -> PositionSide:
        """LONG, SHORT or FLAT."""
    @property
    def position_side(self) -> PositionSide | None:
        """The hedge-mode leg (LONG or SHORT) this is; None in one-way mode."""
    @property
    def key(self) -> str:
        """What names it among the account's positions (the keys of ``positions()``): the
        symbol, or for a hedge-mode leg the symbol and the leg, as ``BTCUSDT-LONG``."""
    @property
    def size(self) -> Decimal:
        """The absolute size (base asset)."""
    @property
    def entry_price(self) -> Decimal:
        """The average entry price."""
    @property
    def unrealized_pnl(self) -> Decimal:
        """Unrealized profit or loss, as the venue reports it."""
    @property
    def leverage(self) -> Decimal:
        """The position's leverage."""
    @property
    def liquidation_price(self) -> Decimal | None:
        """The liquidation price; None where the venue gives none."""
    @property
    def mark_price(self) -> Decimal | None:
        """The mark price; None where the venue gives none."""
    @property
    def realized_pnl(self) -> Decimal | None:
        """PnL realised by the position so far (Bybit ``cumRealisedPnl``); None where the
        venue does not report it (Binance's REST)."""
    @property
    def initial_margin(self) -> Decimal | None:
        """Margin the position holds (Binance ``initialMargin``, Bybit ``positionIM``)."""
    @property
    def maintenance_margin(self) -> Decimal | None:
        """The least margin it must keep (Binance ``maintMargin``, Bybit ``positionMM``)."""
    @property
    def take_profit(self) -> Decimal | None:
        """The position's own take-profit trigger price (Bybit ``takeProfit``); None if unset."""
    @property
    def stop_loss(self) -> Decimal | None:
        """The position's own stop-loss trigger price (Bybit ``stopLoss``); None if unset."""
    @property
    def trailing_stop(self) -> Decimal | None:
        """The position's trailing stop as the price distance it trails by (Bybit
        ``trailingStop``); None if unset."""
    @property
    def exchange_time_ms(self) -> int:
        """The venue's time of the report, Unix ms (0 if not known)."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Gap:
    """Delivered in a gap-marker stream where ``missed`` events were dropped because the reader
    fell behind. Frozen; equal and hashable by value."""

    def __new__(cls, missed: int) -> Gap: ...
    @property
    def missed(self) -> int:
        """How many events were dropped at this point."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class LoopWaker:
    """Wakes one asyncio event loop from Rust threads without taking the GIL (used by
    :mod:`tradewire.streams`, one per loop).

    The loop watches :meth:`fileno` with ``add_reader``; when it is readable, it resolves every
    future :meth:`take` returns. A burst of wake-ups costs one byte on the socket. Creating one
    raises :class:`~tradewire.TradewireError` if its socket pair cannot be made.
    """

    def __new__(cls) -> LoopWaker: ...
    def fileno(self) -> int:
        """The read end of the waker's non-blocking socket pair."""
    def take(self) -> list[Any]:
        """Consumes the pending wake-up bytes and returns the futures to resolve (emptying the
        list)."""

@final
class NativeStream:
    """The consumer end of one bounded Rust stream; :class:`tradewire.Stream` wraps it.

    Dropping it, or :meth:`close`, releases the producer: it sees the consumer is gone and
    stops (a subscription ends with its last reader).
    """

    def drain(self, max: int) -> list[Any] | None:
        """Takes up to ``max`` events (at least 1) in arrival order, with a :class:`Gap` where
        events were dropped. An empty list means nothing yet; None means the stream ended
        cleanly; the failure that ended it (e.g. :class:`~tradewire.SlowConsumer`) is raised
        once everything before it was delivered."""
    def park(self, waker: LoopWaker, future: Any) -> bool:
        """Arranges for ``future`` to be handed to ``waker`` when events arrive. Returns False
        without parking if there is something to drain already."""
    def close(self) -> None:
        """Stops the stream: the producer sees the consumer is gone; buffered events are
        dropped."""
    @property
    def overflow(self) -> str:
        """What happens when the reader falls behind: ``"conflate"`` (only the latest per key
        is kept), ``"gap_marker"`` (events are dropped and a :class:`Gap` says how many) or
        ``"never_drop"`` (the stream ends with :class:`~tradewire.SlowConsumer`)."""
    def counters(self) -> tuple[int, int, int]:
        """``(delivered, dropped, conflated)`` event counts so far."""

@final
class Producer:
    """Observes the Tokio task :func:`synthetic_stream` started."""

    @property
    def sent(self) -> int:
        """Events the queue accepted so far (dropped ones excluded)."""
    @property
    def outcome(self) -> str:
        """``"running"``, ``"finished"``, ``"consumer_gone"``, ``"slow_consumer"`` or
        ``"cancelled"``."""
    def wait(self) -> Any:
        """An awaitable of the producer's end: resolves to its final :attr:`outcome`. Safe to
        cancel."""

def synthetic_stream(
    kind: str,
    count: int,
    *,
    overflow: str = "gap_marker",
    capacity: int = 65536,
    batch: int = 256,
    interval_us: int = 0,
    symbols: int = 1,
    backpressure: bool = False,
) -> tuple[NativeStream, Producer]:
    """Backs :func:`tradewire.testing.synthetic_stream`: starts a Tokio task producing ``count``
    events (0: until the consumer leaves) into a new stream, ``batch`` per send, sleeping
    ``interval_us`` microseconds between sends (0: yielding only).

    ``kind="trades"`` gives :class:`Trade` events; ``kind="tickers"`` gives :class:`Ticker`
    events over ``symbols`` symbols (``S0``, ``S1``, ...) whose ``last`` is the event's sequence
    number. ``overflow`` is ``"conflate"`` (tickers only, per symbol), ``"gap_marker"`` or
    ``"never_drop"``. With ``backpressure`` the producer waits while the queue is over half
    full. An unknown ``kind`` or ``overflow``, or conflated trades, raise
    :class:`~tradewire.InvalidArgument`.
    """

@final
class NativeSimulator:
    """Backs :class:`tradewire.testing.Simulator`: Binance (spot, USD-M) and Bybit v5 (spot,
    linear) on their real wire protocols, in this process on 127.0.0.1, with fault switches
    and ground truth.

    A method taking ``venue, market`` raises :class:`~tradewire.InvalidArgument` for a pair
    that is not simulated. Bybit serves both categories from one REST host, one private stream
    and one set of rate limits: their faults are kept with spot.
    """

    @staticmethod
    def start(
        *,
        seed: int = 7,
        steps_per_second: int = 50,
        time_scale: int = 1,
        extra_symbols: int = 0,
        connection_lifetime_ms: int | None = None,
        legacy_levels: int = 0,
    ) -> NativeSimulator:
        """Starts every simulated venue on ephemeral ports and returns once they listen
        (blocking). The same ``seed`` gives the same synthetic market; ``steps_per_second=0``
        freezes it; ``time_scale`` divides every venue timer and window; ``extra_symbols`` lists
        that many more symbols; ``connection_lifetime_ms`` overrides the scaled 24 h connection
        lifetime; ``legacy_levels`` puts that many levels a side on every book, deep and off the
        current tick and step grid. Raises :class:`~tradewire.TradewireError` if it cannot
        start."""
    def endpoints(self, venue: Venue, market: Market) -> tuple[str, str, str | None, str | None, str | None]:
        """``(rest, ws_public, ws_market, ws_private, ws_api)`` URLs of a venue market; None
        where the market has no such route."""
    def credentials(self, venue: Venue, key_type: str = "hmac") -> tuple[str, str]:
        """``(api_key, api_secret)`` of the simulated account. ``key_type="ed25519"`` (Binance
        only) gives the same account's Ed25519 key, the secret a PKCS#8 PEM private key; any
        other ``key_type`` raises :class:`~tradewire.InvalidArgument`."""
    def close(self) -> None:
        """Shuts every simulated venue down."""
    def drop_connections(self, venue: Venue, market: Market, connection: int | None = None) -> None:
        """Drops one WebSocket connection (an id from :meth:`connections`) or, with None, every
        one of the market, without a close frame, as when a network path dies. An id that is not
        open raises :class:`~tradewire.InvalidArgument`."""
    def freeze(self, venue: Venue, market: Market, frozen: bool, connection: int | None = None) -> None:
        """Freezes (``frozen=True``) or thaws one connection or every one of the market: nothing
        is read or sent, no pings, the sockets stay open. Thawing the market thaws connections
        frozen one by one too. An id that is not open raises :class:`~tradewire.InvalidArgument`."""
    def connections(self, venue: Venue, market: Market) -> list[tuple[int, str, list[str], int]]:
        """The market's open WebSocket connections as ``(id, kind, streams, opened_ms)``, oldest
        first; Bybit's private connections are listed under spot."""
    def record_tape(self, venue: Venue, market: Market, symbol: str, steps: int, *, seed: int = 1) -> int:
        """Records ``steps`` steps of ``symbol``'s synthetic market (deterministic from
        ``seed``) as the market's tape and pauses the synthetic market, so the tape starts where
        the book is. Returns the number of frames; an unknown symbol raises
        :class:`~tradewire.InvalidArgument`."""
    def load_tape(self, venue: Venue, market: Market, path: str | os.PathLike[str]) -> tuple[int, int]:
        """Loads the market-data messages of a recorded JSON-lines file as the tape; returns
        ``(frames, skipped lines)``. An unreadable file raises
        :class:`~tradewire.InvalidArgument`."""
    def play_tape(
        self, venue: Venue, market: Market, *, rate: int | None = None, precise: bool = False
    ) -> int:
        """Every open connection of the market plays the loaded tape: the frames it is
        subscribed to, in order, at ``rate`` frames per second of tape (None: as fast as its
        socket takes them). A recorded tape first moves the true book to the tape's end. A rate
        is sent in 1 ms bursts unless ``precise`` (frame by frame, a simulator thread spinning
        between frames). Returns the number of frames. Raises :class:`~tradewire.InvalidArgument`
        if no tape is loaded, or the book moved since a recorded tape was recorded."""
    def tape_frames(self, venue: Venue, market: Market) -> list[tuple[str, int]]:
        """The loaded tape's frames as ``(route, id)`` in tape order: the route is the Binance
        stream kind (``depth``, ``trade``, ``aggTrade``, ``bookTicker``) or the Bybit topic; the
        id the book update id or the trade id (0 in a loaded file)."""
    def tape_sends(
        self, venue: Venue, market: Market, route: str | None = None
    ) -> list[tuple[str, int, int]]:
        """The current play's frames written so far, in the order written, as ``(route, id,
        ns)``: ``ns`` is the wall clock (as ``time.time_ns()``) when the session started writing
        the frame. A frame appears once per connection that took it; only ``route``'s if
        given."""
    def fail_rest(
        self, venue: Venue, market: Market, *, status_5xx: int = 0, hang: int = 0, lose_write_answers: int = 0
    ) -> None:
        """The next ``status_5xx`` REST requests answer 503; the next ``hang`` never answer (an
        order-entry request on a WebSocket session is swallowed: not carried out, not
        answered); the next ``lose_write_answers`` writes (POST, PUT, DELETE, or order-entry
        requests, whose connection then drops) are carried out but never answered. Replaces any
        counts still pending."""
    def fail_user_events(
        self,
        venue: Venue,
        market: Market,
        *,
        drop: int = 0,
        duplicate: int = 0,
        reorder: int = 0,
        garble: int = 0,
    ) -> None:
        """User-data events of any user session of the market: the next ``drop`` are never
        sent, the next ``duplicate`` are sent twice, the next ``reorder`` are held back behind
        the following one, the next ``garble`` are sent cut in half (unreadable)."""
    def corrupt_depth(
        self,
        venue: Venue,
        market: Market,
        *,
        skip: int = 0,
        duplicate: int = 0,
        reorder: int = 0,
        symbol: str | None = None,
    ) -> None:
        """On every book stream of the market (of ``symbol`` only, if given; for Bybit also
        ``"DEPTH.SYMBOL"``, one topic), the next ``skip`` diffs are skipped, the next
        ``duplicate`` sent twice, the next ``reorder`` held back behind the following one."""
    def pause(self, venue: Venue, market: Market, paused: bool) -> None:
        """Pauses (or resumes) the synthetic market; streams keep publishing what changes."""
    def set_delay_ms(self, venue: Venue, market: Market, ms: int) -> None:
        """Delays every WebSocket message of the market by ``ms`` milliseconds (0: none)."""
    def set_clock(self, venue: Venue, *, skew_ms: int = 0, drift_us_per_s: int = 0) -> None:
        """Sets the venue clock (shared by its markets) ``skew_ms`` milliseconds off real time,
        drifting ``drift_us_per_s`` microseconds per second."""
    def clock_offset_ms(self, venue: Venue) -> int:
        """The venue clock minus real time, in milliseconds."""
    def force_rate_limit(self, venue: Venue, market: Market, count: int) -> None:
        """The next ``count`` requests get a rate-limit answer (Binance HTTP 429, Bybit 10006),
        not counted as client violations."""
    def force_ban(self, venue: Venue, market: Market, ms: int) -> None:
        """Bans the client now for ``ms`` milliseconds (not counted as a client violation)."""
    def lift_ban(self, venue: Venue, market: Market) -> None:
        """Ends a ban now."""
    def violations(self, venue: Venue, market: Market) -> tuple[int, int, int]:
        """``(rate_limited, bans, while_banned)`` counted against the client so far: requests
        answered with a rate-limit error, bans imposed, requests refused while banned."""
    def shutdown_notice(self, venue: Venue, market: Market, close_after: float) -> None:
        """Has every Binance WebSocket API connection of the market announce
        ``serverShutdown`` and close ``close_after`` seconds later."""
    def rest_requests(self, venue: Venue, market: Market) -> dict[str, int]:
        """REST requests served so far, by ``"METHOD /path"`` of a known endpoint, and WebSocket
        order-entry requests as ``"WS METHOD /path"`` of the endpoint they mirror (Bybit: one
        host for both categories, listed under spot)."""
    def ban_refusals(self, venue: Venue, market: Market) -> list[tuple[int, str]]:
        """When each request refused while banned arrived (Unix ms, oldest first; the latest
        100,000) and its path (``"rest"`` or ``"ws-api"``): Bybit's one IP ban covers both
        categories."""
    def restart(self, venue: Venue) -> None:
        """Restarts the venue. Bybit: book topics start over at ``u=1`` with a snapshot, on the
        open connections. Binance: every connection of both markets drops."""
    def expire_listen_keys(self) -> None:
        """Expires every Binance USD-M listen key now (their streams get
        ``listenKeyExpired``)."""
    def connections_refused(self, venue: Venue, market: Market) -> int:
        """WebSocket connection attempts refused for exceeding the venue's per-window limit
        (counted per server: Binance spot, Binance USD-M, Bybit)."""
    def unsubscribed(self, venue: Venue, market: Market) -> int:
        """Topics clients have unsubscribed from on this market (Bybit; a client should not
        churn a healthy subscription)."""
    def orders(self, venue: Venue, market: Market) -> list[Order]:
        """Ground truth: every order of the simulated account on the market, oldest first."""
    def fills(self, venue: Venue, market: Market) -> list[Fill]:
        """Ground truth: every execution of the account's orders on the market, oldest first."""
    def trades(self, venue: Venue, market: Market, symbol: str) -> list[Trade]:
        """Ground truth: the public trades the venue still lists, oldest first."""
    def balances(self, venue: Venue, market: Market) -> list[Balance]:
        """Ground truth: the account's funds on the market, free and locked per asset."""
    def positions(self, venue: Venue, market: Market) -> list[Position]:
        """Ground truth: the account's open positions on a derivatives market (with the mark
        price; no liquidation price)."""
    def take(
        self,
        venue: Venue,
        market: Market,
        symbol: str,
        side: SideName,
        qty: _Money,
        *,
        limit: _Money | None = None,
    ) -> None:
        """Backs :meth:`tradewire.testing.Simulator.take`."""
    def set_symbol_rules(
        self,
        venue: Venue,
        market: Market,
        symbol: str,
        *,
        tick: _Money | None = None,
        step: _Money | None = None,
    ) -> None:
        """Backs :meth:`tradewire.testing.Simulator.set_symbol_rules`: publishes a new tick
        and/or step for ``symbol``; exchangeInfo / instruments-info answer with them and new
        orders are validated against them, resting orders keep their prices and quantities. An
        unknown symbol, or a value not positive or finer than the book unit, raises
        :class:`~tradewire.InvalidArgument`."""
    def book(
        self, venue: Venue, market: Market, symbol: str, depth: int = 1000
    ) -> tuple[int, list[Level], list[Level]]:
        """The true book: ``(update_id, bids best first, asks best first)``, ``depth`` levels a
        side at most. An unknown symbol raises :class:`~tradewire.InvalidArgument`."""
    def candles(
        self,
        venue: Venue,
        market: Market,
        symbol: str,
        interval: IntervalName,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """The true candles opening in ``start_ms..=end_ms``, oldest first (the current one
        open); every figure as the simulator's trades make it."""

def shutdown() -> None:
    """Registered with ``atexit`` by :mod:`tradewire`: cancels every Rust task, then gives
    threads delivering a result 100 ms with the GIL released; never waits longer, so exit never
    hangs. Afterwards the runtime refuses work (:class:`~tradewire.StreamClosed`) and awaitables
    still pending never resolve."""

def runtime_started() -> bool:
    """Whether the Tokio runtime has started in this process (it starts on first use; a
    ``fork()``-ed child has none)."""

def worker_threads() -> int:
    """The number of Tokio worker threads in use, or to be used once started:
    ``TRADEWIRE_WORKER_THREADS`` (1 to 64) if set, else the cores less one, between 1 and 2. An
    unusable value of the variable raises :class:`~tradewire.InvalidArgument`."""

def refresh_log_level() -> None:
    """Backs :func:`tradewire.refresh_log_level`: re-reads the ``tradewire`` logger's effective
    level now. Rust drops records below it without touching Python; the level is otherwise
    re-read at most once a second, on calls into the extension."""

def emit_test_log(level: str, message: str) -> None:
    """Emits one Rust ``tracing`` record at ``level`` (``ERROR``, ``WARNING``, ``INFO``, any case;
    anything else is DEBUG) from a runtime thread, and returns once it was handed to Python
    logging (tests the bridge). Raises :class:`~tradewire.Timeout` if that takes over 5 s."""

def raise_core_error(kind: str) -> None:
    """Always raises: the exception the core error ``kind`` maps to, as the connectors do (tests
    of the mapping), with Binance's -1003 "Too many requests." as the venue reply where one
    applies. Kinds: ``exchange``, ``rate_limited``, ``banned``, ``auth``, ``order_not_found``,
    ``invalid_order``, ``circuit_open``, ``connection_lost``, ``timeout``, ``slow_consumer``,
    ``protocol``, ``closed``, ``failed``; any other raises :class:`~tradewire.InvalidArgument`."""

def panicking_call() -> Awaitable[None]:
    """An awaitable whose Rust side panics: raises :class:`~tradewire.TradewireError` (an
    internal failure), as any call would whose task panicked. For tests."""

def arm_fault(name_part: str) -> None:
    """Makes the next supervised task whose name contains ``name_part`` panic (a long-lived
    task at its next checkpoint, a one-shot task as it starts), to prove it is supervised. Each
    call is one panic. For tests."""

@final
class NativeConnector:
    """Backs :class:`tradewire.Binance` and :class:`tradewire.Bybit`: one venue market's core
    connector on the shared runtime (requests through the rate limiter, circuit breaker and
    venue clock; supervised WebSocket streams; live books; orders and the user stream).

    Awaitables raise the :mod:`tradewire.errors` exception a failure maps to (an
    :class:`~tradewire.ExchangeError` subclass for a venue refusal, :class:`~tradewire.Timeout`,
    :class:`~tradewire.CircuitOpen`, :class:`~tradewire.ConnectionLost`, ...). After
    :meth:`close`, requests and new streams raise :class:`~tradewire.StreamClosed`. Signed calls
    and the user stream without keys raise :class:`~tradewire.InvalidArgument`.
    """

    @staticmethod
    def start(
        venue: Venue,
        market: Market,
        rest: str,
        ws_public: str,
        *,
        ws_market: str | None = None,
        ws_private: str | None = None,
        ws_api: str | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        recv_window_ms: int = 5000,
        timeout_ms: int = 10000,
        breaker_failures: int = 5,
        breaker_cool_down_ms: int = 10000,
        clock_interval_ms: int = 30000,
        reconcile_every_ms: int = 30000,
        listen_key_keepalive_ms: int = 1800000,
        symbols_interval_ms: int = 600000,
        restarts: int = 10,
        book_stale_after_ms: int = 60000,
        keep_ended_orders_ms: int = 3600000,
        transport: str = "auto",
    ) -> Awaitable[NativeConnector]:
        """Backs :meth:`tradewire.Binance.start`: resolves to a started connector once the venue
        clock is sampled and its limits read. URLs are those of :class:`tradewire.Endpoints`;
        durations are milliseconds (see :class:`tradewire.ConnectorOptions`; ``book_stale_after_ms=0``:
        never stale). A market the venue
        lacks, ``recv_window_ms`` outside 1-60000, only one of ``api_key``/``api_secret``, or an
        unusable key raise :class:`~tradewire.InvalidArgument` at the call."""
    def request(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        *,
        signed: bool = False,
        order: bool = False,
    ) -> Awaitable[str]:
        """Backs :meth:`tradewire.Binance.request`: sends a REST request through the limiter,
        breaker and clock (signed if ``signed``; ``order`` draws on the share of the limits kept
        for orders) and resolves to the JSON text of the answer. A method other than GET, POST,
        PUT, DELETE (any case) or a path not starting with ``/`` raises
        :class:`~tradewire.InvalidArgument` at the call."""
    def server_time_ms(self) -> int:
        """The venue's time, Unix ms, as the clock sync estimates it."""
    def health(self) -> dict[str, Any]:
        """The health snapshot as plain values (durations in seconds), the keywords of
        :class:`tradewire.Health`; :meth:`tradewire.Binance.health` wraps it."""
    def raw_stream(self, topics: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.raw_stream`: the venue's messages of ``topics`` as
        received (``str``), on a stream of ``capacity`` with gap markers."""
    def mark_prices(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.mark_prices`: :class:`MarkPrice` events."""
    def liquidations(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.liquidations`: :class:`Liquidation` events."""
    def mark_price(self, symbol: str) -> Awaitable[MarkPrice]:
        """Backs :meth:`tradewire.Binance.mark_price`."""
    def open_interest(self, symbol: str) -> Awaitable[OpenInterest]:
        """Backs :meth:`tradewire.Binance.open_interest`."""
    def funding_rates(
        self,
        symbol: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> Awaitable[list[FundingRate]]:
        """Backs :meth:`tradewire.Binance.funding_rates`: oldest first."""
    def agg_trades(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.agg_trades`: :class:`AggTrade` events with gap markers;
        a venue without them raises :class:`~tradewire.InvalidArgument`."""
    def bbo(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.bbo`: :class:`TopOfBook` events with gap markers."""
    def depth_snapshot(self, symbol: str, *, limit: int = 100) -> Awaitable[BookView]:
        """Backs :meth:`tradewire.Binance.depth_snapshot`: the REST book as a synced view."""
    def history(
        self,
        symbol: str,
        kind: str,
        start_ms: int,
        end_ms: int | None = None,
        interval: IntervalName | None = None,
        page_size: int | None = None,
    ) -> NativeHistory:
        """Backs :attr:`tradewire.Binance.history`: a walk (``kind`` ``klines`` with an
        ``interval``, ``funding``, ``agg_trades``, ``my_trades`` or ``orders``), ``page_size``
        items a request (the venue's most if None); the symbol, interval, keys, page size and
        range are checked here."""
    def klines(
        self,
        symbol: str,
        interval: IntervalName,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> Awaitable[list[Kline]]:
        """Backs :meth:`tradewire.Binance.klines`: candles by REST, oldest first."""
    def kline_updates(
        self, symbols: list[str], interval: IntervalName, *, capacity: int = 65536
    ) -> NativeStream:
        """Backs :meth:`tradewire.Binance.kline_updates`: :class:`Kline` events, each closed
        candle once (missed ones read by REST), on a stream of ``capacity`` that never drops."""
    def trades(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.trades`: :class:`Trade` events of ``symbols`` on a
        stream of ``capacity`` with gap markers. Unknown symbols raise
        :class:`~tradewire.InvalidArgument`."""
    def tickers(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.tickers`: :class:`Ticker` events of ``symbols`` on a
        stream of ``capacity`` with gap markers. Unknown symbols raise
        :class:`~tradewire.InvalidArgument`."""
    def book(self, symbol: str, *, depth: int = 50, timeout_ms: int = 30000) -> Awaitable[OrderBook]:
        """Backs :meth:`tradewire.Binance.book`: resolves to an :class:`OrderBook` handle
        showing ``depth`` levels a side once the book is in sync; :class:`~tradewire.Timeout`
        if not within ``timeout_ms``. Books of one symbol are shared."""
    def place(
        self,
        symbol: str,
        side: SideName,
        order_type: OrderType,
        *,
        qty: _Money | None = None,
        quote_qty: _Money | None = None,
        price: _Money | None = None,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        position_side: LegName | None = None,
        trigger_price: _Money | None = None,
        trigger_kind: TriggerKind | None = None,
        trigger_by: TriggerByName | None = None,
        callback_rate: _Money | None = None,
        close_position: bool = False,
        take_profit: Exit | None = None,
        stop_loss: Exit | None = None,
        client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """Backs :meth:`tradewire.Binance.place_limit` and ``place_market``: checks the order
        against the symbol's rules (:class:`~tradewire.InvalidOrder` naming the rule, nothing
        sent) and places it once, never resent. Resolves to its state, UNKNOWN if neither the
        answer nor a lookup by client order id could tell. An unusable ``client_order_id`` (one
        is generated if None) raises :class:`~tradewire.InvalidArgument` at the call."""
    def amend_batch(self, symbol: str, items: list[_AmendItem]) -> Awaitable[list[Order | TradewireError]]:
        """Backs :meth:`tradewire.Binance.amend_batch`: one outcome per amendment, in order."""
    def set_leverage(self, symbol: str, leverage: _Money) -> Awaitable[str]:
        """Backs :meth:`tradewire.Binance.set_leverage`; resolves to the leverage as text."""
    def set_position_exits(
        self,
        symbol: str,
        *,
        take_profit: Exit | None = None,
        stop_loss: Exit | None = None,
        trailing_stop: _Money | None = None,
        activation_price: _Money | None = None,
        position_side: LegName | None = None,
    ) -> Awaitable[Position]:
        """Backs :meth:`tradewire.Bybit.set_position_exits`."""
    def set_margin_mode(self, mode: str, symbol: str | None = None) -> Awaitable[None]:
        """Backs :meth:`tradewire.Binance.set_margin_mode`."""
    def set_position_mode(self, mode: str, symbol: str | None = None) -> Awaitable[None]:
        """Backs :meth:`tradewire.Binance.set_position_mode`."""
    def settings(self, symbol: str) -> Awaitable[tuple[str, str, str, str]]:
        """Backs :meth:`tradewire.Binance.settings`: symbol, leverage, margin and position mode."""
    def place_batch(self, orders: list[_BatchItem]) -> Awaitable[list[Order | TradewireError]]:
        """Backs :meth:`tradewire.Binance.place_batch`: one outcome per order, in order."""
    def cancel_batch(
        self, symbol: str, *, order_ids: list[str] | None = None, client_order_ids: list[str] | None = None
    ) -> Awaitable[list[Order | TradewireError]]:
        """Backs :meth:`tradewire.Binance.cancel_batch`: one outcome per order, in order."""
    def amend(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        qty: _Money | None = None,
        price: _Money | None = None,
        replacement_client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """Backs :meth:`tradewire.Binance.amend`: a new ``qty`` (total) and/or ``price`` of an
        open LIMIT order, checked first; resolves to its state after (or to the replacement,
        where the venue replaces)."""
    def replace(
        self,
        symbol: str,
        qty: _Money,
        price: _Money,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        side: SideName | None = None,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        new_client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """Backs :meth:`tradewire.Binance.replace`: cancels one order and places a LIMIT order
        in one request (Binance spot); resolves to the new order."""
    def place_oco(
        self,
        symbol: str,
        side: SideName,
        qty: _Money,
        price: _Money,
        stop_price: _Money,
        *,
        stop_limit_price: _Money | None = None,
        list_client_order_id: str | None = None,
        limit_client_order_id: str | None = None,
        stop_client_order_id: str | None = None,
    ) -> Awaitable[tuple[Order, Order]]:
        """Backs :meth:`tradewire.Binance.place_oco`: both legs checked, placed as one order
        list, resolved to ``(take_profit, stop)``."""
    def cancel(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Awaitable[Order]:
        """Backs :meth:`tradewire.Binance.cancel`: cancels one order named by exactly one
        non-empty id (else :class:`~tradewire.InvalidArgument` at the call); resolves to its
        state after the cancel. :class:`~tradewire.OrderNotFound` if the venue does not know
        it."""
    def cancel_all(self, symbol: str) -> Awaitable[list[Order]]:
        """Cancels every open order of ``symbol``; resolves to the canceled orders' states."""
    def order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Awaitable[Order]:
        """One order, named by exactly one non-empty id (else
        :class:`~tradewire.InvalidArgument` at the call), as the venue reports it now."""
    def open_orders(self, symbol: str | None = None) -> Awaitable[list[Order]]:
        """Open orders of ``symbol``, or of every symbol (every page)."""
    def balances(self) -> Awaitable[list[Balance]]:
        """Free and locked funds per asset."""
    def positions(self, symbol: str | None = None) -> Awaitable[list[Position]]:
        """Open positions (with ``symbol``: that one's, even if flat). Derivatives markets only:
        spot raises :class:`~tradewire.InvalidArgument`."""
    def order_updates(self) -> NativeStream:
        """Backs :meth:`tradewire.Binance.order_updates`: every change of every order from now
        on as :class:`OrderUpdate`, never dropped (a reader a million updates or 128 MiB
        of them behind gets :class:`~tradewire.SlowConsumer`). Opens the user stream."""
    def balance_updates(self) -> NativeStream:
        """Each asset's :class:`Balance` when it changes, the current ones first; never dropped.
        Opens the user stream."""
    def position_updates(self) -> NativeStream:
        """Each :class:`Position` when it changes, the current ones first; never dropped. Opens
        the user stream; spot raises :class:`~tradewire.InvalidArgument`."""
    def book_diffs(self, symbol: str, *, depth: int = 1000, capacity: int = 65536) -> NativeStream:
        """Backs :meth:`tradewire.Binance.book_diffs`: every :class:`BookDiff` of one book."""
    def book_updates(self, symbols: list[str], *, depth: int = 10) -> NativeStream:
        """Backs :meth:`tradewire.Binance.book_updates`: a :class:`BookView` (best ``depth``
        levels a side) of each book of ``symbols`` after every change, conflated per symbol; the
        current view of each first."""
    def symbols(self) -> Awaitable[list[SymbolInfo]]:
        """Every listed symbol's rules, in name order (cached: read again when 10 minutes old,
        and every ``symbols_interval_ms`` by the connector)."""
    def symbol_info(self, symbol: str) -> Awaitable[SymbolInfo]:
        """One symbol's rules; an unknown symbol raises :class:`~tradewire.InvalidArgument`."""
    def events(self) -> NativeEvents:
        """A subscription to the connector's events from this call on."""
    def close(self) -> None:
        """Closes the connector: cancels its tasks and connections and marks its books
        unsynced. Idempotent."""

@final
class NativeEvents:
    """A subscription to a connector's events; :meth:`tradewire.Binance.events` wraps it."""

    def next(self) -> Awaitable[tuple[str, list[tuple[str, str]]] | None]:
        """Resolves to the next event as ``(kind, fields)``, the kinds and fields of
        :class:`tradewire.ConnectorEventKind` (values as text), or None once the connector is
        closed. Events a slow reader lags too far behind on are skipped."""

@final
class MergedLevel:
    """One price of a merged book: the total quantity and each venue's part. Frozen; equal by
    value."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def price(self) -> Decimal:
        """The level's price."""
    @property
    def qty(self) -> Decimal:
        """The total quantity at this price across the included venues."""
    @property
    def venues(self) -> dict[str, Decimal]:
        """``{venue label: quantity}`` (labels such as ``binance-spot``), largest first."""

@final
class Quote:
    """The best price of one side across venues. Frozen; equal by value."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def price(self) -> Decimal:
        """The best price."""
    @property
    def qty(self) -> Decimal:
        """The total quantity at that price across the included venues."""
    @property
    def venue(self) -> str:
        """The label of the venue holding the largest part of :attr:`qty`."""
    @property
    def venues(self) -> dict[str, Decimal]:
        """``{venue label: quantity}`` at that price, largest first."""

@final
class Bbo:
    """The best bid and ask across the included venues at one moment; from
    :meth:`MergedBook.bbo` and :meth:`tradewire.Aggregator.bbo_updates`. Frozen; equal by
    value."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def symbol(self) -> str:
        """The canonical instrument name, e.g. ``BTC/USDT``."""
    @property
    def bid(self) -> Quote | None:
        """The highest bid; None if no included venue has one."""
    @property
    def ask(self) -> Quote | None:
        """The lowest ask; None if no included venue has one."""
    @property
    def crossed(self) -> bool:
        """Whether one venue's bid is at or above another's ask."""
    @property
    def excluded(self) -> dict[str, str]:
        """``{venue label: reason}`` of the venues left out."""
    @property
    def local_time_ns(self) -> int:
        """Local wall-clock time it was taken, Unix ns."""

@final
class MergedView:
    """A merged book at one moment: its best levels a side and which venues count. Frozen; equal
    by value."""
    def __eq__(self, other: object, /) -> bool: ...
    __hash__: ClassVar[None]  # type: ignore[assignment]

    @property
    def symbol(self) -> str:
        """The canonical instrument name, e.g. ``BTC/USDT:USDT``."""
    @property
    def bids(self) -> list[MergedLevel]:
        """Merged bid levels, best first."""
    @property
    def asks(self) -> list[MergedLevel]:
        """Merged ask levels, best first."""
    @property
    def crossed(self) -> bool:
        """Whether one venue's bid is at or above another's ask."""
    @property
    def included(self) -> list[str]:
        """Labels of the venues whose books are in the view."""
    @property
    def excluded(self) -> dict[str, str]:
        """``{venue label: reason}`` of the venues left out (out of sync, stale, closed)."""
    @property
    def symbols(self) -> dict[str, str]:
        """``{venue label: the venue's symbol}`` of every venue of the merged book."""

@final
class MergedBook:
    """A live merged book of one instrument across venues; from
    :meth:`tradewire.Aggregator.book`.

    Each venue's book is followed in Rust and every change applied as it happens; a venue out of
    sync or stale is left out of every read until it is back. Every read takes the book's lock
    once, so one call sees one moment. A context manager: leaving ``with`` closes it.
    """

    @property
    def symbol(self) -> str:
        """The canonical name (``BTC/USDT``, ``BTC/USDT:USDT``)."""
    @property
    def tick(self) -> Decimal:
        """The finest tick every venue's tick is a multiple of (a unit for showing prices and
        spreads; levels off it are kept as they are)."""
    def snapshot(self, n: int | None = None) -> MergedView:
        """Both sides' best ``n`` merged levels (None: all) and the venues' states, at one
        moment."""
    def bids(self, n: int = 10) -> list[MergedLevel]:
        """The best ``n`` merged bids, best first."""
    def asks(self, n: int = 10) -> list[MergedLevel]:
        """The best ``n`` merged asks, best first."""
    def bbo(self) -> Bbo:
        """The best bid and ask across the included venues now."""
    def best_bid(self) -> Quote | None:
        """The highest bid across the included venues; None if none has one."""
    def best_ask(self) -> Quote | None:
        """The lowest ask across the included venues; None if none has one."""
    def close(self) -> None:
        """Stops following the venue books (their subscriptions end unless something else
        reads them); every venue then reads as excluded, ``"closed"``."""
    @property
    def is_closed(self) -> bool:
        """Whether :meth:`close` was called (on it or its aggregator)."""
    def __enter__(self) -> MergedBook:
        """Returns the book itself."""
    def __exit__(self, exc_type: object | None, exc: object | None, tb: object | None) -> None:
        """Closes the book."""

@final
class NativeAggregator:
    """Backs :class:`tradewire.Aggregator`: merged books over started connectors.

    ``connectors``: 1 to 8, one per venue and market. ``mapping`` names, for a canonical
    instrument, the symbol each connector contributes by label (``{"BTC/USDT": {"binance-spot":
    "BTCUSDT"}}``); other instruments are found by their canonical names. ``depth`` is the
    levels a side each venue book keeps (at least 1); a venue book unchanged for
    ``stale_after_ms`` is left out (None: never stale); ``timeout_ms`` bounds the wait for the
    venue books to sync. A bad connector list, a mapping label no connector has, or depth 0
    raise :class:`~tradewire.InvalidArgument`.
    """

    def __new__(
        cls,
        connectors: list[NativeConnector],
        *,
        mapping: dict[str, dict[str, str]] | None = None,
        depth: int = 200,
        stale_after_ms: int | None,
        timeout_ms: int = 30000,
    ) -> NativeAggregator: ...
    def book(self, symbol: str) -> Awaitable[MergedBook]:
        """Resolves to the merged book of ``symbol`` (opened on first use) once every venue's
        book is in sync, or after ``timeout_ms`` with at least one in sync
        (:class:`~tradewire.Timeout` if none). Unknown names raise
        :class:`~tradewire.InvalidArgument`."""
    def bbo(self, symbol: str) -> Bbo:
        """The best bid and ask of a merged book opened by :meth:`book`; one not opened raises
        :class:`~tradewire.InvalidArgument`."""
    def bbo_updates(self, symbol: str) -> NativeStream:
        """A conflated stream of :class:`Bbo` of a merged book opened by :meth:`book`, sent when
        either side changes (price, quantity, venues, a venue leaving or rejoining); the current
        one first. One not opened raises :class:`~tradewire.InvalidArgument`."""
    def close(self) -> None:
        """Closes every merged book (see :meth:`MergedBook.close`); :meth:`book` then opens a
        fresh one."""
    def events(self, capacity: int = 4096) -> NativeStream:
        """Crossed markets and venues leaving or rejoining merged books, from this call on, as
        ``(kind, symbol, fields)`` tuples (see :class:`tradewire.AggregatorEventKind`) on a
        stream of ``capacity`` (at least 1) with gap markers."""

@final
class NativeGateway:
    """Backs :class:`tradewire.Gateway`: publishes connectors' market data on NATS."""

    @staticmethod
    def start(
        url: str,
        *,
        prefix: str = "tw",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials_file: str | None = None,
        root_certificates: str | None = None,
        require_tls: bool = False,
        standby_group: str | None = None,
        name: str | None = None,
        lease_ttl_ms: int = 3000,
    ) -> Awaitable[NativeGateway]:
        """Connects to NATS. Refused credentials raise :class:`~tradewire.PermissionDenied`; an
        unreachable server :class:`~tradewire.ConnectionLost`; a prefix that is not a subject
        token :class:`~tradewire.InvalidArgument`."""
    def serve(
        self, connector: NativeConnector, symbols: list[str], channels: list[str], book_depth: int = 1000
    ) -> Awaitable[None]:
        """Publishes ``channels`` (``trades``, ``tickers``, ``book``) of ``symbols``. Unknown
        symbols or channels raise :class:`~tradewire.InvalidArgument`."""
    @property
    def epoch(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...
    def serve_account(self, connector: NativeConnector) -> Awaitable[None]:
        """Stores the connector's account events on JetStream and answers its commands."""
    def stats(self) -> dict[str, int]:
        """``published``, ``lost_upstream``, ``snapshots_served``, ``requests_served``,
        ``publish_errors``."""
    def close(self) -> Awaitable[None]:
        """Stops publishing and flushes."""

@final
class NativeRemote:
    """Backs :class:`tradewire.Remote`: one label's subjects read from NATS."""

    @staticmethod
    def connect(
        url: str,
        label: str,
        *,
        prefix: str = "tw",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials_file: str | None = None,
        root_certificates: str | None = None,
        require_tls: bool = False,
        command_timeout_ms: int = 30000,
    ) -> Awaitable[NativeRemote]:
        """Connects to NATS (errors as :meth:`NativeGateway.start`)."""
    @property
    def label(self) -> str: ...
    def trades(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """:class:`Trade` events with gap markers; a subject this user may not read ends the
        stream with :class:`~tradewire.PermissionDenied`."""
    def tickers(self, symbols: list[str], *, capacity: int = 65536) -> NativeStream:
        """:class:`Ticker` events with gap markers."""
    def book_diffs(self, symbol: str, *, capacity: int = 65536) -> NativeStream:
        """:class:`BookDiff` events, the gateway's whole book first as a reset."""
    def book(self, symbol: str, *, depth: int = 50, timeout_ms: int = 30000) -> Awaitable[OrderBook]:
        """A live book kept from the gateway's diffs, once in sync (else
        :class:`~tradewire.Timeout`)."""
    def book_updates(self, symbols: list[str], *, depth: int = 10) -> NativeStream:
        """:class:`BookView` events of each book after every change, conflated per symbol."""
    def symbol_info(self, symbol: str) -> Awaitable[SymbolInfo]:
        """The gateway's answer; no gateway raises :class:`~tradewire.ConnectionLost`."""
    def served(self) -> Awaitable[dict[str, Any]]:
        """``epoch``, ``venue``, ``market``, ``trades``, ``tickers``, ``books``, ``account``."""
    def place(
        self,
        symbol: str,
        side: SideName,
        order_type: OrderType,
        *,
        qty: _Money | None = None,
        quote_qty: _Money | None = None,
        price: _Money | None = None,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        reduce_only: bool = False,
        position_side: LegName | None = None,
        trigger_price: _Money | None = None,
        trigger_kind: TriggerKind | None = None,
        trigger_by: TriggerByName | None = None,
        callback_rate: _Money | None = None,
        close_position: bool = False,
        take_profit: Exit | None = None,
        stop_loss: Exit | None = None,
        client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """As :meth:`NativeConnector.place`, through the gateway's connector. A lost reply is
        resolved by client order id (never sent again); one that reached no gateway raises
        :class:`~tradewire.ConnectionLost` (nothing placed)."""
    def amend_batch(self, symbol: str, items: list[_AmendItem]) -> Awaitable[list[Order | TradewireError]]:
        """As :meth:`NativeConnector.amend_batch`, each an amendment of its own through the gateway."""
    def place_batch(self, orders: list[_BatchItem]) -> Awaitable[list[Order | TradewireError]]:
        """As :meth:`NativeConnector.place_batch`, each order a place of its own through the gateway."""
    def cancel_batch(
        self, symbol: str, *, order_ids: list[str] | None = None, client_order_ids: list[str] | None = None
    ) -> Awaitable[list[Order | TradewireError]]:
        """As :meth:`NativeConnector.cancel_batch`, each a cancel of its own through the gateway."""
    def amend(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        qty: _Money | None = None,
        price: _Money | None = None,
        replacement_client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """As :meth:`NativeConnector.amend`, through the gateway. A lost reply is an error;
        :meth:`order` tells whether the change was made."""
    def replace(
        self,
        symbol: str,
        qty: _Money,
        price: _Money,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        side: SideName | None = None,
        time_in_force: TimeInForceName | None = None,
        post_only: bool = False,
        new_client_order_id: str | None = None,
    ) -> Awaitable[Order]:
        """As :meth:`NativeConnector.replace`, through the gateway; a lost reply is resolved by
        the new order's client id."""
    def cancel(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Awaitable[Order]:
        """As :meth:`NativeConnector.cancel`, through the gateway."""
    def cancel_all(self, symbol: str) -> Awaitable[list[Order]]:
        """As :meth:`NativeConnector.cancel_all`, through the gateway."""
    def order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> Awaitable[Order]:
        """As :meth:`NativeConnector.order`, through the gateway."""
    def open_orders(self, symbol: str | None = None) -> Awaitable[list[Order]]:
        """As :meth:`NativeConnector.open_orders`, through the gateway."""
    def balances(self) -> Awaitable[list[Balance]]:
        """As :meth:`NativeConnector.balances`, through the gateway."""
    def positions(self, symbol: str | None = None) -> Awaitable[list[Position]]:
        """As :meth:`NativeConnector.positions`, through the gateway."""
    def order_updates(self, *, durable: str | None = None) -> NativeStream:
        """:class:`OrderUpdate` events from the account stream; with ``durable``, resumed where
        the reader of that name stopped, one update at a time."""
    def events(self) -> NativeStream:
        """``(kind, fields)`` tuples: ``gateway_failover`` when another gateway takes over."""
    def balance_updates(self) -> NativeStream:
        """:class:`Balance` events: each asset's latest, then every change."""
    def position_updates(self) -> NativeStream:
        """:class:`Position` events: each symbol's latest, then every change."""
    def close(self) -> Awaitable[None]:
        """Stops every stream."""

"""tradewire: live, correct connectivity to Binance and Bybit, with a Rust core.

Money is never a float: prices and quantities are :class:`decimal.Decimal`; inputs accept
``Decimal``, ``str`` or ``int`` and refuse ``float`` with :class:`TypeError`.
"""

from __future__ import annotations

import atexit
import logging

from . import _native
from ._native import (
    AggTrade,
    Balance,
    Bbo,
    BookDiff,
    BookView,
    Exit,
    Fill,
    FundingRate,
    Gap,
    Kline,
    Level,
    Liquidation,
    MarkPrice,
    MergedBook,
    MergedLevel,
    MergedView,
    OpenInterest,
    Order,
    OrderBook,
    OrderUpdate,
    Position,
    Quote,
    SymbolInfo,
    Ticker,
    TopOfBook,
    Trade,
)
from ._trading import Amendment, LimitOrder, MarketOrder
from .aggregate import Aggregator, AggregatorEvent, AggregatorEventKind
from .connectors import (
    Binance,
    BookHealth,
    Bybit,
    ConnectionHealth,
    ConnectorEvent,
    ConnectorEventKind,
    ConnectorOptions,
    Health,
    LimitHealth,
    OrderEntryHealth,
    PositionSettings,
    Transport,
)
from .data import to_arrow, to_pandas
from .endpoints import Credentials, Endpoints
from .enums import (
    Interval,
    MarginMode,
    Market,
    OrderStatus,
    OrderType,
    PositionMode,
    PositionSide,
    Side,
    TimeInForce,
    TriggerBy,
    TriggerDirection,
    TriggerKind,
    Venue,
)
from .errors import (
    AuthError,
    Banned,
    CircuitOpen,
    ConnectionLost,
    ConnectorFailed,
    ExchangeError,
    ForkedProcessError,
    InsufficientFunds,
    InvalidArgument,
    InvalidOrder,
    NotConnected,
    OrderNotFound,
    PermissionDenied,
    PostOnlyRejected,
    ProtocolError,
    RateLimited,
    SlowConsumer,
    StreamClosed,
    Timeout,
    TradewireError,
)
from .gateway import Gateway, GatewayStats, Remote, Served
from .recording import Recorder, RecordingReader, Replay, read_recording
from .streams import Stream

__version__: str = _native.__version__

# A library adds no handlers of its own; the application configures logging.
logging.getLogger("tradewire").addHandler(logging.NullHandler())

# Cancel every Rust task at exit without waiting for them, so exit never hangs.
atexit.register(_native.shutdown)


def refresh_log_level() -> None:
    """Re-read the ``tradewire`` logger's level now (it is otherwise re-read within a second)."""
    _native.refresh_log_level()


__all__ = [
    "AggTrade",
    "Aggregator",
    "AggregatorEvent",
    "AggregatorEventKind",
    "Amendment",
    "AuthError",
    "Balance",
    "Banned",
    "Bbo",
    "Binance",
    "BookDiff",
    "BookHealth",
    "BookView",
    "Bybit",
    "CircuitOpen",
    "ConnectionHealth",
    "ConnectionLost",
    "ConnectorEvent",
    "ConnectorEventKind",
    "ConnectorFailed",
    "ConnectorOptions",
    "Credentials",
    "Endpoints",
    "ExchangeError",
    "Exit",
    "Fill",
    "ForkedProcessError",
    "FundingRate",
    "Gap",
    "Gateway",
    "GatewayStats",
    "Health",
    "InsufficientFunds",
    "Interval",
    "InvalidArgument",
    "InvalidOrder",
    "Kline",
    "Level",
    "LimitHealth",
    "LimitOrder",
    "Liquidation",
    "MarginMode",
    "MarkPrice",
    "Market",
    "MarketOrder",
    "MergedBook",
    "MergedLevel",
    "MergedView",
    "NotConnected",
    "OpenInterest",
    "Order",
    "OrderBook",
    "OrderEntryHealth",
    "OrderNotFound",
    "OrderStatus",
    "OrderType",
    "OrderUpdate",
    "PermissionDenied",
    "Position",
    "PositionMode",
    "PositionSettings",
    "PositionSide",
    "PostOnlyRejected",
    "ProtocolError",
    "Quote",
    "RateLimited",
    "Recorder",
    "RecordingReader",
    "Remote",
    "Replay",
    "Served",
    "Side",
    "SlowConsumer",
    "Stream",
    "StreamClosed",
    "SymbolInfo",
    "Ticker",
    "TimeInForce",
    "Timeout",
    "TopOfBook",
    "Trade",
    "TradewireError",
    "Transport",
    "TriggerBy",
    "TriggerDirection",
    "TriggerKind",
    "Venue",
    "__version__",
    "read_recording",
    "refresh_log_level",
    "to_arrow",
    "to_pandas",
]

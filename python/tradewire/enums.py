"""tradewire's enumerations: :class:`enum.StrEnum`, so each member is its own text.

``Side.BUY == "BUY"``, ``list(Side)`` and ``Side("buy")`` (case-insensitive) all work, and
every argument typed with one of these also takes the member's text. ``parse`` is the same
lookup but raises :class:`~tradewire.InvalidArgument` naming the allowed values.
"""

from __future__ import annotations

import enum
from typing import Literal, Self, TypeAlias

from . import _native


class _Named(enum.StrEnum):
    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        if isinstance(value, str):
            folded = value.casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        return None

    @classmethod
    def parse(cls, text: str) -> Self:
        """The member whose text is ``text``, in any case; :class:`InvalidArgument` if none."""
        try:
            return cls(text)
        except ValueError:
            from .errors import InvalidArgument

            allowed = ", ".join(m.value for m in cls)
            raise InvalidArgument(
                f"{cls.__name__}: {text!r} is not one of {allowed}", field=cls.__name__
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


class Venue(_Named):
    """An exchange."""

    BINANCE = "binance"
    BYBIT = "bybit"


class Market(_Named):
    """A product line of a venue: Binance ``spot``/``usdm``, Bybit ``spot``/``linear``."""

    SPOT = "spot"
    USDM = "usdm"
    LINEAR = "linear"


class Side(_Named):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(_Named):
    LIMIT = "LIMIT"
    MARKET = "MARKET"


class TimeInForce(_Named):
    """``POST_ONLY`` is Binance USD-M ``GTX``, Bybit ``PostOnly`` and Binance spot ``LIMIT_MAKER``."""

    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"
    POST_ONLY = "POST_ONLY"


class MarginMode(_Named):
    """How a derivatives position's margin is held."""

    CROSS = "CROSS"
    ISOLATED = "ISOLATED"
    PORTFOLIO = "PORTFOLIO"


class PositionMode(_Named):
    """One position per symbol, or a long and a short one side by side."""

    ONE_WAY = "ONE_WAY"
    HEDGE = "HEDGE"


class PositionSide(_Named):
    """A position's direction; LONG and SHORT also name the two legs of hedge mode (the
    ``position_side`` of orders and positions)."""

    LONG = "LONG"
    SHORT = "SHORT"
    FLAT = "FLAT"


class TriggerKind(_Named):
    """What a conditional order is for: a STOP fires when the price moves against the order's
    side (a BUY when it rises to the trigger, a SELL when it falls to it), a TAKE_PROFIT the
    other way."""

    STOP = "STOP"
    TAKE_PROFIT = "TAKE_PROFIT"


class TriggerBy(_Named):
    """The price a trigger watches: the last trade's, the mark or the index price."""

    LAST = "LAST"
    MARK = "MARK"
    INDEX = "INDEX"


class TriggerDirection(_Named):
    """Which way the watched price must move to reach the trigger."""

    RISE = "RISE"
    FALL = "FALL"


class OrderStatus(_Named):
    """One order status for every venue. ``UNKNOWN``: sent, fate not yet known (an answer was
    lost); ``order()`` or the order stream resolves it."""

    UNKNOWN = "UNKNOWN"
    PENDING_NEW = "PENDING_NEW"
    UNTRIGGERED = "UNTRIGGERED"
    TRIGGERED = "TRIGGERED"
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    PENDING_CANCEL = "PENDING_CANCEL"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PARTIALLY_FILLED_CANCELED = "PARTIALLY_FILLED_CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"
    DEACTIVATED = "DEACTIVATED"

    @property
    def is_terminal(self) -> bool:
        """FILLED, CANCELED, REJECTED, EXPIRED and the like: nothing leaves these."""
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        """On the book or about to be: neither terminal nor UNKNOWN."""
        return self not in _TERMINAL and self is not OrderStatus.UNKNOWN


class Interval(_Named):
    """A candle's length, named as Binance names it (``1m`` a minute, ``1M`` a month: the one
    place case matters). Bybit lacks ``1s``, ``8h`` and ``3d``; Binance USD-M lacks ``1s``."""

    S1 = "1s"
    M1 = "1m"
    M3 = "3m"
    M5 = "5m"
    M15 = "15m"
    M30 = "30m"
    H1 = "1h"
    H2 = "2h"
    H4 = "4h"
    H6 = "6h"
    H8 = "8h"
    H12 = "12h"
    D1 = "1d"
    D3 = "3d"
    W1 = "1w"
    MN1 = "1M"

    @classmethod
    def _missing_(cls, value: object) -> Self | None:
        # `1m` / `1M` differ only by case; other names may be given in either.
        if isinstance(value, str) and not value.endswith(("m", "M")):
            return super()._missing_(value)
        return None


#: What an argument typed with an enum takes: a member or its text (any case; typed here in the
#: two usual ones, so a checker catches a misspelling).
SideName: TypeAlias = Side | Literal["BUY", "SELL", "buy", "sell"]
TimeInForceName: TypeAlias = (
    TimeInForce | Literal["GTC", "IOC", "FOK", "POST_ONLY", "gtc", "ioc", "fok", "post_only"]
)
#: A hedge-mode leg.
LegName: TypeAlias = PositionSide | Literal["LONG", "SHORT", "long", "short"]
#: A candle interval.
IntervalName: TypeAlias = (
    Interval
    | Literal[
        "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"
    ]
)
#: The price a trigger watches.
TriggerByName: TypeAlias = TriggerBy | Literal["LAST", "MARK", "INDEX", "last", "mark", "index"]

_TERMINAL = frozenset(OrderStatus(s) for s in _native.TERMINAL_ORDER_STATUSES)

__all__ = [
    "Interval",
    "IntervalName",
    "LegName",
    "MarginMode",
    "Market",
    "OrderStatus",
    "OrderType",
    "PositionMode",
    "PositionSide",
    "Side",
    "SideName",
    "TimeInForce",
    "TimeInForceName",
    "TriggerBy",
    "TriggerByName",
    "TriggerDirection",
    "TriggerKind",
    "Venue",
]

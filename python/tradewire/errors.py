"""tradewire's exceptions: one hierarchy under :class:`TradewireError`.

Errors that come from a venue keep its own ``code`` (Binance ``code`` / Bybit ``retCode``)
and ``venue_message``; branch on those, never on the text of ``str(err)``.
"""

from __future__ import annotations

from typing import Any


class TradewireError(Exception):
    """Base class of every error tradewire raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        venue: str | None = None,
        code: int | None = None,
        venue_message: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: ``"binance"`` or ``"bybit"`` where a venue is involved.
        self.venue = venue
        #: The venue's own error code, if it sent one.
        self.code = code
        #: The venue's own error text, verbatim.
        self.venue_message = venue_message
        self.http_status = http_status

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the keyword attributes through pickling (multiprocessing, logging handlers).
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[TradewireError], message: str, state: dict[str, Any]) -> TradewireError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ExchangeError(TradewireError):
    """The venue refused a request; see ``code`` and ``venue_message``."""


class RateLimited(ExchangeError):
    """A rate limit was hit (HTTP 429, Binance -1003, Bybit 10006), or our limiter has no room
    for the request within its ``timeout`` (then it was not sent)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Seconds until there is room, when known (the venue's Retry-After, or our window).
        self.retry_after = retry_after


class Banned(ExchangeError):
    """The venue banned this client (Binance 418, Bybit 403) until ``until_ms``."""

    def __init__(self, message: str, *, until_ms: int = 0, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Unix time in milliseconds when the ban ends.
        self.until_ms = until_ms


class AuthError(ExchangeError):
    """Missing, wrong or expired keys, or a signature the venue rejected."""


class OrderNotFound(ExchangeError):
    """The venue does not know the order."""


class InvalidOrder(TradewireError, ValueError):
    """An order breaks a rule: checked locally (no ``code``) or by the venue."""

    def __init__(self, message: str, *, rule: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Which rule failed, e.g. ``"tick_size"``, ``"min_notional"``.
        self.rule = rule


class InsufficientFunds(InvalidOrder):
    """Not enough balance or margin for the order (Binance -2010/-2018/-2019, Bybit 110004,
    110007, 110012, 110044, 170033, 170131); ``rule`` is ``"insufficient_funds"``."""


class PostOnlyRejected(InvalidOrder):
    """A post-only order would have taken liquidity. The same on every venue: Binance refuses it
    (spot -2010, USD-M -5022), Bybit accepts it and cancels it at once (``rejectReason``
    ``EC_PostOnlyWillTakeLiquidity``; its updates show it CANCELED); either way nothing rests
    and nothing traded. ``rule`` is ``"post_only_would_take"``."""


class CircuitOpen(TradewireError):
    """The venue's circuit breaker is open: requests fail fast until it half-opens."""

    def __init__(self, message: str, *, retry_in: float = 0.0, **kw: Any) -> None:
        super().__init__(message, **kw)
        #: Seconds until a probe request is let through.
        self.retry_in = retry_in


class ConnectionLost(TradewireError, ConnectionError):
    """The connection went away while something depended on it."""


class NotConnected(ConnectionLost):
    """Nothing was sent: the connection the request had to go by is down (an order write with
    ``transport="ws"`` while the order-entry session is not up)."""


class Timeout(TradewireError, TimeoutError):
    """No answer in time. For order writes the outcome is unknown, never assumed failed."""


class SlowConsumer(TradewireError):
    """A stream that never drops events fell ``capacity`` events behind (or, on a stream bounded
    in bytes, ``max_bytes`` of events) and was closed."""

    def __init__(self, message: str, *, capacity: int = 0, max_bytes: int | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.capacity = capacity
        self.max_bytes = max_bytes


class InvalidArgument(TradewireError, ValueError):
    """A value passed to tradewire is unusable; ``field`` names it."""

    def __init__(self, message: str, *, field: str = "", **kw: Any) -> None:
        super().__init__(message, **kw)
        self.field = field


class ProtocolError(TradewireError):
    """The venue sent something tradewire cannot read."""


class PermissionDenied(TradewireError, PermissionError):
    """The message bus refused: NATS did not accept the credentials, or this user may not read
    or write the subject (a gateway user granted market data only, sending a command)."""


class StreamClosed(TradewireError):
    """The stream or connector was closed."""


class ConnectorFailed(StreamClosed):
    """The connector failed and closed: one of its supervised tasks kept failing past its
    restart limit (``restarts=`` a minute; the ``task_gave_up`` event names it). Every stream
    of the connector ends with this after what it had delivered, and every later call raises it;
    open a new connector to go on."""


class ForkedProcessError(TradewireError, RuntimeError):
    """tradewire was used in a child process after ``fork()``; its runtime stayed in the parent."""


__all__ = [
    "AuthError",
    "Banned",
    "CircuitOpen",
    "ConnectionLost",
    "ConnectorFailed",
    "ExchangeError",
    "ForkedProcessError",
    "InsufficientFunds",
    "InvalidArgument",
    "InvalidOrder",
    "NotConnected",
    "OrderNotFound",
    "PermissionDenied",
    "PostOnlyRejected",
    "ProtocolError",
    "RateLimited",
    "SlowConsumer",
    "StreamClosed",
    "Timeout",
    "TradewireError",
]

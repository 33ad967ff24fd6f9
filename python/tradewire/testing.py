"""Test helpers: the exchange simulator and synthetic Rust producers for the stream bridge."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Literal, Self, overload

from . import _native
from ._native import Balance, Fill, Gap, Kline, Level, Order, Position, Producer, Ticker, Trade
from .endpoints import Credentials, Endpoints
from .enums import IntervalName, Market, SideName, Venue
from .streams import Stream

Overflow = Literal["conflate", "gap_marker", "never_drop"]


@overload
def synthetic_stream(
    kind: Literal["trades"],
    count: int,
    *,
    overflow: Overflow = ...,
    capacity: int = ...,
    batch: int = ...,
    interval_us: int = ...,
    symbols: int = ...,
    backpressure: bool = ...,
) -> tuple[Stream[Trade | Gap], Producer]: ...
@overload
def synthetic_stream(
    kind: Literal["tickers"],
    count: int,
    *,
    overflow: Overflow = ...,
    capacity: int = ...,
    batch: int = ...,
    interval_us: int = ...,
    symbols: int = ...,
    backpressure: bool = ...,
) -> tuple[Stream[Ticker | Gap], Producer]: ...
def synthetic_stream(
    kind: Literal["trades", "tickers"],
    count: int,
    *,
    overflow: Overflow = "gap_marker",
    capacity: int = 65_536,
    batch: int = 256,
    interval_us: int = 0,
    symbols: int = 1,
    backpressure: bool = False,
) -> tuple[Stream[Trade | Gap], Producer] | tuple[Stream[Ticker | Gap], Producer]:
    """Starts a Tokio task producing ``count`` events (0: until the consumer leaves).

    ``trades`` gives :class:`Trade` events numbered by ``trade_id``; ``tickers`` gives
    :class:`Ticker` events over symbols ``S0``..``S<symbols-1>`` whose ``last`` is the event's
    sequence number. ``backpressure`` makes the producer wait while the queue is half full
    (for benchmarks that must not drop).
    """
    native, producer = _native.synthetic_stream(
        kind,
        count,
        overflow=overflow,
        capacity=capacity,
        batch=batch,
        interval_us=interval_us,
        symbols=symbols,
        backpressure=backpressure,
    )
    return Stream(native), producer


@dataclass(frozen=True, slots=True)
class Connection:
    """One open WebSocket connection to the simulator.

    ``kind``: ``market`` / ``public`` (market streams), ``user`` (USD-M listenKey stream),
    ``api`` (Binance WebSocket API), ``private`` (Bybit private, listed under spot).
    ``streams``: what it is subscribed to: stream names, listen keys, ``userDataStream#<id>``
    subscriptions of the WebSocket API, Bybit private topics by category (``order.spot``).
    """

    id: int
    kind: str
    streams: tuple[str, ...]
    opened_ms: int


class Simulator:
    """Binance (spot, USD-M) and Bybit v5 (spot, linear) on their real wire protocols, in this
    process, on 127.0.0.1.

    Use it as a context manager (``with`` or ``async with``). ``time_scale`` divides every
    venue timer and window (ping intervals, rate-limit windows, bans, connection lifetime, depth
    speeds) so that tests of hour-long behaviour finish in seconds. The same ``seed`` gives the
    same synthetic market; ``steps_per_second=0`` freezes it (books and trades only change
    through orders), and ``connection_lifetime_ms`` overrides the scaled 24 h lifetime.

    ``legacy_levels=N`` gives every symbol's book N levels a side left from before a tick and
    step change, as real Binance books hold: a few hundred ticks from the top, priced on a tick
    100 times finer and sized on a step 10 times finer than the symbol's current rules. The
    synthetic market never trades or moves them; REST and WebSocket snapshots (1000 levels
    deep) and :meth:`book` include them exactly. :meth:`set_symbol_rules` changes a symbol's
    tick or step during the session.
    """

    def __init__(
        self,
        *,
        seed: int = 7,
        steps_per_second: int = 50,
        time_scale: int = 1,
        extra_symbols: int = 0,
        connection_lifetime_ms: int | None = None,
        legacy_levels: int = 0,
    ) -> None:
        self._seed = seed
        self._legacy_levels = legacy_levels
        self._steps_per_second = steps_per_second
        self._time_scale = time_scale
        self._extra_symbols = extra_symbols
        self._connection_lifetime_ms = connection_lifetime_ms
        self._native: _native.NativeSimulator | None = None
        self._replays: list[_native.NativeReplay] = []

    def start(self) -> Self:
        if self._native is None:
            self._native = _native.NativeSimulator.start(
                seed=self._seed,
                steps_per_second=self._steps_per_second,
                time_scale=self._time_scale,
                extra_symbols=self._extra_symbols,
                connection_lifetime_ms=self._connection_lifetime_ms,
                legacy_levels=self._legacy_levels,
            )
        return self

    def close(self) -> None:
        for replay in self._replays:
            replay.close()
        self._replays.clear()
        if self._native is not None:
            self._native.close()
            self._native = None

    def load_recording(self, directory: str | Path, *, speed: float | None = None) -> Endpoints:
        """Serves a recording (``tradewire record``) on its venue's wire protocol, beside the
        simulated venues, until the simulator closes: its REST answers to the requests that
        read them, its frames (paced at ``speed``, or as fast as read) to whoever subscribes.
        Point any client (tradewire, the official SDKs, ccxt) at the endpoints returned."""
        from .recording import replay_endpoints

        self.native  # noqa: B018 (running)
        replay = _native.NativeReplay(str(directory), speed)
        self._replays.append(replay)
        return replay_endpoints(replay)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def native(self) -> _native.NativeSimulator:
        """Fault controls and ground truth (see ``_native.pyi``)."""
        if self._native is None:
            raise RuntimeError("the simulator is not running: use it in a with block")
        return self._native

    @staticmethod
    def native_venue(venue: Venue | str) -> Venue:
        return _venue(venue)

    @staticmethod
    def native_market(market: Market | str) -> Market:
        return _market(market)

    def endpoints(self, venue: Venue | str, market: Market | str) -> Endpoints:
        rest, ws_public, ws_market, ws_private, ws_api = self.native.endpoints(_venue(venue), _market(market))
        return Endpoints(rest, ws_public, ws_market, ws_private, ws_api)

    def account(self, venue: Venue | str, key_type: Literal["hmac", "ed25519"] = "hmac") -> Credentials:
        """The simulated account's keys; Binance also has an Ed25519 key (secret: PKCS#8 PEM)."""
        api_key, api_secret = self.native.credentials(_venue(venue), key_type)
        return Credentials(api_key, api_secret)

    def book(
        self, venue: Venue | str, market: Market | str, symbol: str, depth: int = 1000
    ) -> tuple[int, list[Level], list[Level]]:
        """The true book: ``(update_id, bids best first, asks best first)``."""
        return self.native.book(_venue(venue), _market(market), symbol, depth)

    def candles(
        self,
        venue: Venue | str,
        market: Market | str,
        symbol: str,
        interval: IntervalName,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Kline]:
        """The true candles opening in ``start_ms..=end_ms``, oldest first (the current one open)."""
        return self.native.candles(_venue(venue), _market(market), symbol, interval, start_ms, end_ms)

    def take(
        self,
        venue: Venue | str,
        market: Market | str,
        symbol: str,
        side: SideName,
        qty: Decimal | str | int,
        *,
        limit: Decimal | str | int | None = None,
    ) -> None:
        """Market flow: another trader takes ``qty`` on ``side`` (``BUY`` sweeps the asks) up
        to ``limit`` (any price if None). The account's resting orders it meets trade, and
        the conditional orders its trades reach fire, as on the venue."""
        self.native.take(_venue(venue), _market(market), symbol, side, qty, limit=limit)

    def set_symbol_rules(
        self,
        venue: Venue | str,
        market: Market | str,
        symbol: str,
        *,
        tick: Decimal | str | int | None = None,
        step: Decimal | str | int | None = None,
    ) -> None:
        """Publishes a new tick size and/or step size for ``symbol``, as a venue does mid-session.

        From now on Binance ``exchangeInfo`` (PRICE_FILTER ``tickSize``, LOT_SIZE ``stepSize``)
        and Bybit ``instruments-info`` (``priceFilter.tickSize``, ``lotSizeFilter``
        ``basePrecision``/``qtyStep``) answer with the new values and new orders are validated
        against them; resting orders, the account's and the market's, keep their prices and
        quantities, off the new grid if need be. Values are exact: ``Decimal``, ``str`` or
        ``int`` (a ``float`` raises ``TypeError``). A value that is not positive, or finer than
        the symbol's book unit (10^-8 unless it was listed with a finer tick or step), raises
        ``InvalidArgument``.
        """
        self.native.set_symbol_rules(_venue(venue), _market(market), symbol, tick=tick, step=step)

    def orders(self, venue: Venue | str, market: Market | str) -> list[Order]:
        """The simulator's own record of every order of the account, oldest first."""
        return self.native.orders(_venue(venue), _market(market))

    def fills(self, venue: Venue | str, market: Market | str) -> list[Fill]:
        """The simulator's record of every execution of the account's orders, oldest first."""
        return self.native.fills(_venue(venue), _market(market))

    def trades(self, venue: Venue | str, market: Market | str, symbol: str) -> list[Trade]:
        """The public trades of ``symbol`` the venue still lists (its latest 100,000), oldest
        first."""
        return self.native.trades(_venue(venue), _market(market), symbol)

    def balances(self, venue: Venue | str, market: Market | str) -> dict[str, Balance]:
        """The simulator's ledger of the account's funds, by asset."""
        return {b.asset: b for b in self.native.balances(_venue(venue), _market(market))}

    def connections(self, venue: Venue | str, market: Market | str) -> list[Connection]:
        """Open WebSocket connections, oldest first; pass an ``id`` to ``native.drop_connections``
        or ``native.freeze`` to fault that one alone."""
        return [
            Connection(id, kind, tuple(streams), opened_ms)
            for id, kind, streams, opened_ms in self.native.connections(_venue(venue), _market(market))
        ]

    def positions(self, venue: Venue | str, market: Market | str) -> dict[str, Position]:
        """The simulator's open positions of the account, by :attr:`Position.key` (the
        symbol, or ``BTCUSDT-LONG`` for a hedge-mode leg)."""
        return {p.key: p for p in self.native.positions(_venue(venue), _market(market))}

    def best(self, venue: Venue | str, market: Market | str, symbol: str) -> tuple[Decimal, Decimal]:
        """True best bid and ask prices."""
        _, bids, asks = self.book(venue, market, symbol, 1)
        return bids[0].price, asks[0].price


def _venue(venue: Venue | str) -> Venue:
    return venue if isinstance(venue, Venue) else Venue.parse(venue)


def _market(market: Market | str) -> Market:
    return market if isinstance(market, Market) else Market.parse(market)


__all__ = ["Connection", "Producer", "Simulator", "synthetic_stream"]

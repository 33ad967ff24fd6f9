"""One venue session shared by many processes, through NATS.

A :class:`Gateway` runs beside the connectors it is given and publishes their market data on
versioned NATS subjects (``tw.v1.md.<label>.<kind>.<symbol>``, JSON, decimals as strings:
``docs/gateway.md``). A :class:`Remote` in any process on any machine reads them with the
connector's own types: ``trades()``, ``tickers()``, ``book_diffs()``, ``symbol_info()``.

    async with tw.Binance("spot") as venue, tw.Gateway("nats://127.0.0.1:4222") as gateway:
        await gateway.serve(venue, ["BTCUSDT"], channels=["trades", "book"])
        ...

    async with tw.Remote("nats://127.0.0.1:4222", "binance-spot") as remote:
        async for trade in remote.trades("BTCUSDT"):
            ...
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Iterable, Mapping, Sequence
from os import PathLike
from types import TracebackType
from typing import Any, Generic, Literal, Protocol, Self, TypedDict, TypeVar

from . import _native
from ._native import BookDiff, BookView, Gap, OrderBook, OrderUpdate, SymbolInfo, Ticker, Trade
from ._trading import _Trading
from .connectors import ConnectorEvent, ConnectorEventKind, _Connector, _millis
from .errors import InvalidArgument, StreamClosed
from .streams import Stream

Channel = Literal["trades", "tickers", "book"]


class GatewayStats(TypedDict):
    published: int
    #: Events the connectors dropped before the gateway took them.
    lost_upstream: int
    snapshots_served: int
    requests_served: int
    publish_errors: int


class Served(TypedDict):
    epoch: int
    venue: str
    market: str
    trades: list[str]
    tickers: list[str]
    books: list[str]
    #: Its account events and commands.
    account: bool


class _NatsSettings(TypedDict):
    prefix: str
    user: str | None
    password: str | None
    token: str | None
    credentials_file: str | None
    root_certificates: str | None
    require_tls: bool


class _Closable(Protocol):
    def close(self) -> Awaitable[None]: ...


N = TypeVar("N", bound=_Closable)


class _NatsClient(Generic[N]):
    """Connection settings and the ``async with`` life shared by :class:`Gateway` and
    :class:`Remote`."""

    _what = "client"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tw",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials_file: str | PathLike[str] | None = None,
        root_certificates: str | PathLike[str] | None = None,
        require_tls: bool = False,
    ) -> None:
        if not isinstance(url, str) or not url:
            raise InvalidArgument("url must name a NATS server, e.g. 'nats://127.0.0.1:4222'", field="url")
        self.url = url
        self._nats = _NatsSettings(
            prefix=prefix,
            user=user,
            password=password,
            token=token,
            credentials_file=None if credentials_file is None else str(credentials_file),
            root_certificates=None if root_certificates is None else str(root_certificates),
            require_tls=require_tls,
        )
        self._native: N | None = None

    def _open(self) -> Awaitable[N]:
        raise NotImplementedError

    async def start(self) -> Self:
        if self._native is None:
            self._native = await self._open()
        return self

    async def close(self) -> None:
        if self._native is not None:
            native, self._native = self._native, None
            await native.close()

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def native(self) -> N:
        if self._native is None:
            raise StreamClosed(
                f"the {self._what} is not started (or closed): use it in an `async with` block"
            )
        return self._native


class Gateway(_NatsClient[_native.NativeGateway]):
    """Publishes connectors' market data and accounts on NATS for :class:`Remote` readers
    anywhere, and answers their commands.

    ``url`` names the NATS server(s); ``user``/``password``, ``token`` or ``credentials_file``
    log in; ``root_certificates`` and ``require_tls`` for TLS; ``prefix`` heads every subject.

    With ``standby_group``, gateways of that group (on any machine) elect one active through
    a lease in JetStream KV: the others keep their connectors started and serve nothing until
    the active one stops renewing (``lease_ttl`` seconds after it dies, at once if it closes
    cleanly); then one takes over, starts serving, and remotes get ``gateway_failover``.
    """

    _what = "Gateway"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "tw",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials_file: str | PathLike[str] | None = None,
        root_certificates: str | PathLike[str] | None = None,
        require_tls: bool = False,
        standby_group: str | None = None,
        name: str | None = None,
        lease_ttl: float = 3.0,
    ) -> None:
        super().__init__(
            url,
            prefix=prefix,
            user=user,
            password=password,
            token=token,
            credentials_file=credentials_file,
            root_certificates=root_certificates,
            require_tls=require_tls,
        )
        self.standby_group = standby_group
        self._name = name
        self._lease_ttl_ms = _millis("lease_ttl", lease_ttl)

    def _open(self) -> Awaitable[_native.NativeGateway]:
        return _native.NativeGateway.start(
            self.url,
            standby_group=self.standby_group,
            name=self._name,
            lease_ttl_ms=self._lease_ttl_ms,
            **self._nats,
        )

    def __repr__(self) -> str:
        state = "open" if self._native is not None else "closed"
        return f"Gateway(url={self.url!r}, {state})"

    @property
    def epoch(self) -> int:
        """Drawn at start; readers tell a restarted gateway by a new one."""
        return self.native.epoch

    @property
    def name(self) -> str:
        """Its name in leases and announcements."""
        return self.native.name

    @property
    def active(self) -> bool:
        """Whether it serves now (always, without ``standby_group``)."""
        return self.native.active

    async def serve(
        self,
        connector: _Connector,
        symbols: Iterable[str],
        *,
        channels: Sequence[Channel] = ("trades", "tickers", "book"),
        book_depth: int = 1000,
    ) -> None:
        """Publishes ``channels`` of ``symbols`` from ``connector`` (started) under its label
        (``connector.label``). Unknown symbols raise :class:`InvalidArgument`; a stream already
        served is left as it is."""
        if not isinstance(connector, _Connector):
            raise InvalidArgument(
                f"connector must be a tradewire.Binance or tradewire.Bybit, not {type(connector).__name__}",
                field="connector",
            )
        if isinstance(symbols, str):
            symbols = [symbols]
        await self.native.serve(connector.native, list(symbols), list(channels), book_depth=book_depth)

    async def serve_account(self, connector: _Connector) -> None:
        """Stores ``connector``'s order updates, balances and positions in a JetStream stream
        (``tw.v1.acct.<label>.>``; each change once, by message id) and answers the commands of
        :class:`Remote` readers (place, cancel, queries) with the connector's rate limits,
        checks and state machine. The connector needs API keys."""
        if not isinstance(connector, _Connector):
            raise InvalidArgument(
                f"connector must be a tradewire.Binance or tradewire.Bybit, not {type(connector).__name__}",
                field="connector",
            )
        await self.native.serve_account(connector.native)

    def stats(self) -> GatewayStats:
        raw = self.native.stats()
        return GatewayStats(
            published=raw["published"],
            lost_upstream=raw["lost_upstream"],
            snapshots_served=raw["snapshots_served"],
            requests_served=raw["requests_served"],
            publish_errors=raw["publish_errors"],
        )


class Remote(_NatsClient[_native.NativeRemote], _Trading):
    """What a :class:`Gateway` serves for one venue market (``label``: ``binance-spot``,
    ``bybit-linear``, ...), with the connector's own methods, types and stream rules: trades
    and tickers mark losses with :class:`Gap`; ``book_diffs()`` never drops and starts with the
    whole book; orders are placed and queried through the gateway's connector (one rate-limit
    budget, its checks and state machine); account updates come from JetStream."""

    def __init__(
        self,
        url: str,
        label: str,
        *,
        prefix: str = "tw",
        user: str | None = None,
        password: str | None = None,
        token: str | None = None,
        credentials_file: str | PathLike[str] | None = None,
        root_certificates: str | PathLike[str] | None = None,
        require_tls: bool = False,
        command_timeout: float = 30.0,
    ) -> None:
        super().__init__(
            url,
            prefix=prefix,
            user=user,
            password=password,
            token=token,
            credentials_file=credentials_file,
            root_certificates=root_certificates,
            require_tls=require_tls,
        )
        self.label = label
        self._command_timeout_ms = _millis("command_timeout", command_timeout)

    _what = "Remote"

    def _open(self) -> Awaitable[_native.NativeRemote]:
        return _native.NativeRemote.connect(
            self.url, self.label, command_timeout_ms=self._command_timeout_ms, **self._nats
        )

    def __repr__(self) -> str:
        state = "open" if self._native is not None else "closed"
        return f"Remote(url={self.url!r}, label={self.label!r}, {state})"

    def _trader(self) -> _native.NativeRemote:
        return self.native

    def events(self) -> AsyncIterator[ConnectorEvent]:
        """What happens to the gateway serving this label: ``gateway_failover`` when another
        takes over. Streams and commands carry on by themselves (a book resyncs from the new
        gateway's snapshot; a place in flight is resolved by client order id)."""
        return _events(Stream(self.native.events()))

    def order_updates(self, *, durable: str | None = None) -> Stream[OrderUpdate]:
        """Every change of every order from now on, never dropped, as the gateway stored them.

        With ``durable="name"`` the NATS server keeps this reader's place: a reader that comes
        back under the same name (after a restart, on another machine) gets every update after
        the last one it was handed, none twice. An update counts as dealt with when the reader
        asks for the next one or closes the stream; a process killed mid-way gets the update it
        was working on (and those of the moment before) again."""
        return Stream(self.native.order_updates(durable=durable))

    def trades(self, *symbols: str, capacity: int = 65_536) -> Stream[Trade | Gap]:
        """Public trades of ``symbols`` as the gateway publishes them; a loss anywhere on the
        way (the venue connection, the bus, a restarted gateway) is a :class:`Gap`."""
        return Stream(self.native.trades(list(symbols), capacity=capacity))

    def tickers(self, *symbols: str, capacity: int = 65_536) -> Stream[Ticker | Gap]:
        """24 h tickers of ``symbols``, with :class:`Gap` markers."""
        return Stream(self.native.tickers(list(symbols), capacity=capacity))

    def book_diffs(self, symbol: str, *, capacity: int = 65_536) -> Stream[BookDiff]:
        """Every change of ``symbol``'s book, none dropped: the gateway's whole book first as a
        reset, then each diff. A loss on the bus or a restarted gateway brings a fresh whole
        book (another reset). A reader ``capacity`` diffs behind gets :class:`SlowConsumer`."""
        return Stream(self.native.book_diffs(symbol, capacity=capacity))

    async def book(self, symbol: str, *, depth: int = 50, sync_timeout: float = 30.0) -> OrderBook:
        """A live order book of ``symbol`` kept in Rust from the gateway's diffs (as
        :meth:`book_diffs`), returned once in sync: the connector's :class:`OrderBook`. A loss on
        the bus or a new gateway resyncs it from a fresh whole book. Raises :class:`Timeout` if
        not in sync within ``sync_timeout`` seconds."""
        return await self.native.book(symbol, depth=depth, timeout_ms=_millis("sync_timeout", sync_timeout))

    def book_updates(self, *symbols: str, depth: int = 10) -> Stream[BookView]:
        """A :class:`BookView` of each book after every change, conflated per symbol, the
        current view first (as a connector's ``book_updates``)."""
        return Stream(self.native.book_updates(list(symbols), depth=depth))

    async def symbol_info(self, symbol: str) -> SymbolInfo:
        """``symbol``'s rules as the gateway's connector knows them."""
        return await self.native.symbol_info(symbol)

    async def served(self) -> Served:
        """What the gateway serves for this label."""
        raw = await self.native.served()
        return Served(
            epoch=raw["epoch"],
            venue=raw["venue"],
            market=raw["market"],
            trades=list(raw["trades"]),
            tickers=list(raw["tickers"]),
            books=list(raw["books"]),
            account=bool(raw["account"]),
        )


async def _events(stream: Stream[tuple[str, dict[str, str]]]) -> AsyncIterator[ConnectorEvent]:
    async for kind, fields in stream:
        yield ConnectorEvent(ConnectorEventKind(kind), fields)


def load_config(path: str | PathLike[str]) -> dict[str, Any]:
    """Reads a gateway config (TOML; ``docs/gateway.md``), checking its shape."""
    import tomllib

    with open(path, "rb") as file:
        config = tomllib.load(file)
    if not isinstance(config.get("nats"), dict) or not isinstance(config["nats"].get("url"), str):
        raise InvalidArgument(f"{path}: [nats] needs url = 'nats://host:port'", field="nats.url")
    venues = config.get("venue")
    if not isinstance(venues, list) or not venues:
        raise InvalidArgument(f"{path}: name at least one [[venue]]", field="venue")
    for i, v in enumerate(venues):
        for key in ("venue", "market", "symbols"):
            if key not in v:
                raise InvalidArgument(f"{path}: [[venue]] #{i + 1} needs {key}", field=f"venue.{key}")
    return config


def _secret(section: Mapping[str, Any], key: str) -> str | None:
    """A secret given as ``key_env`` (the name of an environment variable) or inline."""
    import os

    env = section.get(f"{key}_env")
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            raise InvalidArgument(f"{key}_env names {env}, which is not set", field=f"{key}_env")
        return value
    value = section.get(key)
    return None if value is None else str(value)


async def run_config(
    config: Mapping[str, Any], *, duration: float | None = None, report: float = 5.0
) -> None:
    """Runs a gateway as ``config`` says until cancelled (or for ``duration`` seconds), logging
    its counters every ``report`` seconds."""
    import contextlib
    import logging

    from .connectors import Binance, Bybit
    from .endpoints import Endpoints

    log = logging.getLogger("tradewire.gateway")
    nats = config["nats"]
    ha = config.get("gateway", {})
    async with contextlib.AsyncExitStack() as stack:
        gateway = await stack.enter_async_context(
            Gateway(
                nats["url"],
                prefix=nats.get("prefix", "tw"),
                user=nats.get("user"),
                password=_secret(nats, "password"),
                token=_secret(nats, "token"),
                credentials_file=nats.get("credentials_file"),
                root_certificates=nats.get("root_certificates"),
                require_tls=bool(nats.get("require_tls", False)),
                standby_group=ha.get("standby_group"),
                name=ha.get("name"),
                lease_ttl=float(ha.get("lease_ttl", 3.0)),
            )
        )
        for v in config["venue"]:
            kind = {"binance": Binance, "bybit": Bybit}.get(v["venue"])
            if kind is None:
                raise InvalidArgument(
                    f"venue must be binance or bybit, not {v['venue']!r}", field="venue.venue"
                )
            endpoints = Endpoints(**v["endpoints"]) if "endpoints" in v else None
            connector = await stack.enter_async_context(
                kind(
                    v["market"],
                    api_key=_secret(v, "api_key"),
                    api_secret=_secret(v, "api_secret"),
                    endpoints=endpoints,
                    testnet=bool(v.get("testnet", False)),
                )
            )
            await gateway.serve(
                connector,
                list(v["symbols"]),
                channels=tuple(v.get("channels", ("trades", "tickers", "book"))),
                book_depth=int(v.get("book_depth", 1000)),
            )
            if v.get("account", False):
                await gateway.serve_account(connector)
            log.info("serving %s: %s", connector.label, ", ".join(v["symbols"]))
        loop = asyncio.get_running_loop()
        end = None if duration is None else loop.time() + duration
        while end is None or loop.time() < end:
            await asyncio.sleep(report if end is None else max(0.0, min(report, end - loop.time())))
            log.info("gateway %s", gateway.stats())

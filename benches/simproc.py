"""The simulator in a child process, for measurements of tradewire's own footprint.

The soak reads the process's RSS; with the simulator in the same process, every order the
simulated venue keeps would count against tradewire. :class:`SimProcess` runs
:class:`tradewire.testing.Simulator` in a spawned child and forwards the calls the soak makes
(ground truth and fault controls) over a pipe. The answers come back as plain data: native
records (orders, balances, levels) as :class:`types.SimpleNamespace` with the same attributes,
errors of the tradewire hierarchy as the same class with the same message.
"""

from __future__ import annotations

import enum
import inspect
import multiprocessing
import traceback
from dataclasses import is_dataclass
from decimal import Decimal
from multiprocessing.connection import Connection
from types import SimpleNamespace, TracebackType
from typing import Any, Self

import tradewire as tw
from tradewire.testing import Simulator


def plain(value: Any) -> Any:
    """`value` as something the pipe can carry: native records become namespaces."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, Decimal, enum.Enum)):
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if is_dataclass(value):  # Endpoints, Credentials, Connection: Python dataclasses pickle
        return value
    kind = type(value)
    fields = [n for n in dir(kind) if not n.startswith("_") and inspect.isdatadescriptor(getattr(kind, n))]
    return SimpleNamespace(**{n: plain(getattr(value, n)) for n in fields})


def _serve(conn: Connection, options: dict[str, Any]) -> None:
    try:
        sim = Simulator(**options).start()
    except BaseException as e:  # told to the parent, which raises it
        conn.send((False, (type(e).__name__, f"{e}\n{traceback.format_exc()}")))
        return
    conn.send((True, None))
    with sim:
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return
            if request is None:
                conn.send((True, None))
                return
            path, args, kwargs = request
            target: Any = sim
            for name in path.split("."):
                target = getattr(target, name)
            try:
                conn.send((True, plain(target(*args, **kwargs))))
            except Exception as e:  # every failure goes back to the caller
                conn.send((False, (type(e).__name__, str(e))))


def _rebuild(name: str, message: str) -> Exception:
    kind = getattr(tw, name, None)
    if isinstance(kind, type) and issubclass(kind, tw.TradewireError):
        return kind(message)
    return RuntimeError(f"simulator process: {name}: {message}")


class _Calls:
    def __init__(self, owner: SimProcess, prefix: str) -> None:
        self._owner, self._prefix = owner, prefix

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self._owner.call(self._prefix + name, *args, **kwargs)


class SimProcess:
    """A :class:`~tradewire.testing.Simulator` (same keywords) in a child process; use it as a
    context manager. ``native`` forwards to the simulator's fault controls and ground truth."""

    native_venue = staticmethod(Simulator.native_venue)
    native_market = staticmethod(Simulator.native_market)

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self.native: Any = _Calls(self, "native.")

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self._options), daemon=True)
        self._process.start()
        child.close()
        ok, failure = self._conn.recv()
        if not ok:
            self.__exit__(None, None, None)
            raise _rebuild(*failure)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
                self._conn.recv()
            except (EOFError, OSError):
                pass
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
            self._process = None

    def call(self, path: str, *args: Any, **kwargs: Any) -> Any:
        if self._conn is None:
            raise RuntimeError("the simulator process is not running: use it in a with block")
        self._conn.send((path, args, kwargs))
        ok, value = self._conn.recv()
        if not ok:
            raise _rebuild(*value)
        return value

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def endpoints(self, venue: str, market: str) -> tw.Endpoints:
        endpoints: tw.Endpoints = self.call("endpoints", venue, market)
        return endpoints

    def account(self, venue: str) -> tw.Credentials:
        credentials: tw.Credentials = self.call("account", venue)
        return credentials

    def best(self, venue: str, market: str, symbol: str) -> tuple[Decimal, Decimal]:
        bid, ask = self.call("best", venue, market, symbol)
        return bid, ask

    def orders(self, venue: str, market: str) -> list[Any]:
        orders: list[Any] = self.call("orders", venue, market)
        return orders

    def balances(self, venue: str, market: str) -> dict[str, Any]:
        balances: dict[str, Any] = self.call("balances", venue, market)
        return balances

    def positions(self, venue: str, market: str) -> dict[str, Any]:
        positions: dict[str, Any] = self.call("positions", venue, market)
        return positions

    def connections(self, venue: str, market: str) -> list[Any]:
        links: list[Any] = self.call("connections", venue, market)
        return links

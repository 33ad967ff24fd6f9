"""Async iterators over streams produced in Rust.

Each :class:`Stream` wraps a bounded Rust queue. Iterating drains it in batches; an empty
queue parks one asyncio future that the Rust producer resolves without taking the GIL (a byte
on a socket the event loop watches). Closing the stream (``aclose()``, leaving ``async with``,
or dropping it, e.g. by ``break``-ing out of ``async for ... in c.trades(...)``) releases the
Rust side: the producer sees the consumer is gone and stops.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, MutableMapping
from types import AsyncGeneratorType, TracebackType
from typing import Generic, Self, TypeVar, cast

from . import _native

T = TypeVar("T")

#: Events taken from Rust per drain. Kept under CPython's young-generation GC threshold (700
#: allocations) so that a batch consumed and dropped never triggers a collection.
_BATCH = 512

_wakers: MutableMapping[asyncio.AbstractEventLoop, _native.LoopWaker] = weakref.WeakKeyDictionary()


def _on_ready(waker: _native.LoopWaker) -> None:
    for future in waker.take():
        if not future.done():  # a cancelled waiter is simply skipped
            future.set_result(None)


def _waker_for(loop: asyncio.AbstractEventLoop) -> _native.LoopWaker:
    waker = _wakers.get(loop)
    if waker is None:
        waker = _native.LoopWaker()
        loop.add_reader(waker.fileno(), _on_ready, waker)
        _wakers[loop] = waker
    return waker


async def _events(native: _native.NativeStream) -> AsyncGenerator[T, None]:
    """The hot path: CPython resumes an async generator far faster than it runs an
    ``async def __anext__`` per event. It waits only once its batch is used up, so when a
    cancellation kills it there, nothing is lost and :class:`Stream` starts a fresh one. It
    references ``native``, not the Stream, so dropping the Stream frees it."""
    try:
        while True:
            batch: list[T] | None = native.drain(_BATCH)
            if batch is None:
                return
            if batch:
                for event in batch:
                    yield event
                continue
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            if native.park(_waker_for(loop), future):
                await future
    except GeneratorExit:
        native.close()  # closed or garbage-collected: release the producer
        raise


def _start(native: _native.NativeStream) -> AsyncGeneratorType[T, None]:
    return cast("AsyncGeneratorType[T, None]", _events(native))


class Stream(Generic[T]):
    """An async iterator of events from Rust.

    Ends quietly when the producer ends cleanly; raises the error that ended it otherwise
    (e.g. :class:`~tradewire.SlowConsumer`, :class:`~tradewire.ConnectionLost`). Cancelling a
    task that waits for the next event is safe: no event is lost and the stream stays open
    (close it, or let it go, to release it). A second ``async for`` continues where the first
    stopped.

    As in python-websockets, ``aiter(stream)`` is a generator: a cancelled wait on it ends
    that generator (the stream and its events stay). For waits with a timeout use
    ``await stream.recv()`` or ``anext(stream)``.
    """

    __slots__ = ("__weakref__", "_events", "_native")

    def __init__(self, native: _native.NativeStream) -> None:
        self._native = native
        self._events: AsyncGeneratorType[T, None] = _start(native)

    def _live(self) -> AsyncGenerator[T, None]:
        if self._events.ag_frame is None:  # ended by a cancellation while parked
            self._events = _start(self._native)
        return self._events

    def __aiter__(self) -> AsyncGenerator[T, None]:
        return self._live()

    async def __anext__(self) -> T:
        """The next event (``anext(stream)``). Cancelling it is safe: no event is lost."""
        return await self._live().__anext__()

    async def recv(self) -> T:
        """The next event; raises ``StopAsyncIteration`` at the end. Cancelling it is safe."""
        return await self._live().__anext__()

    def close(self) -> None:
        """Stops the stream now; events not yet taken are discarded."""
        self._native.close()

    async def aclose(self) -> None:
        """Stops the stream and its iterator."""
        self._native.close()
        await self._events.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def overflow(self) -> str:
        """``"conflate"``, ``"gap_marker"`` or ``"never_drop"``."""
        return self._native.overflow

    def counters(self) -> tuple[int, int, int]:
        """``(delivered, dropped, conflated)`` events so far, counted in Rust."""
        return self._native.counters()

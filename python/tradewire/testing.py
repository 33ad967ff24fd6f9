"""Test helpers: synthetic Rust producers for the stream bridge (the exchange simulator joins
here as ``Simulator``)."""

from __future__ import annotations

from typing import Literal, overload

from . import _native
from ._native import Gap, Producer, Ticker, Trade
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


__all__ = ["Producer", "synthetic_stream"]

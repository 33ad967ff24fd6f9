"""Core errors reach Python as one typed hierarchy with the venue's code and message intact."""

from __future__ import annotations

import pytest
import tradewire as tw
from tradewire import _native


@pytest.mark.parametrize(
    ("kind", "cls", "builtin"),
    [
        ("exchange", tw.ExchangeError, None),
        ("rate_limited", tw.RateLimited, None),
        ("banned", tw.Banned, None),
        ("auth", tw.AuthError, None),
        ("order_not_found", tw.OrderNotFound, None),
        ("invalid_order", tw.InvalidOrder, ValueError),
        ("circuit_open", tw.CircuitOpen, None),
        ("connection_lost", tw.ConnectionLost, ConnectionError),
        ("timeout", tw.Timeout, TimeoutError),
        ("slow_consumer", tw.SlowConsumer, None),
        ("protocol", tw.ProtocolError, None),
        ("closed", tw.StreamClosed, None),
    ],
)
def test_each_core_error_maps_to_its_class(
    kind: str, cls: type[tw.TradewireError], builtin: type | None
) -> None:
    with pytest.raises(cls) as info:
        _native.raise_core_error(kind)
    assert type(info.value) is cls
    assert isinstance(info.value, tw.TradewireError)
    if builtin is not None:
        assert isinstance(info.value, builtin)


def test_venue_code_and_message_survive() -> None:
    with pytest.raises(tw.RateLimited) as info:
        _native.raise_core_error("rate_limited")
    err = info.value
    assert (err.venue, err.code, err.venue_message, err.http_status) == (
        "binance",
        -1003,
        "Too many requests.",
        429,
    )
    assert err.retry_after == pytest.approx(1.5)
    assert isinstance(err, tw.ExchangeError)
    assert "code -1003" in str(err)
    assert "Too many requests." in str(err)


def test_error_specific_fields() -> None:
    with pytest.raises(tw.Banned) as banned:
        _native.raise_core_error("banned")
    assert banned.value.until_ms == 1_700_000_060_000
    assert banned.value.http_status == 418
    with pytest.raises(tw.InvalidOrder) as invalid:
        _native.raise_core_error("invalid_order")
    assert invalid.value.rule == "tick_size"
    assert invalid.value.code is None
    assert "not a multiple of tick size" in str(invalid.value)
    with pytest.raises(tw.CircuitOpen) as circuit:
        _native.raise_core_error("circuit_open")
    assert circuit.value.venue == "bybit"
    assert circuit.value.retry_in == 3.0
    with pytest.raises(tw.SlowConsumer) as slow:
        _native.raise_core_error("slow_consumer")
    assert slow.value.capacity == 10


def test_unknown_kind_is_an_invalid_argument() -> None:
    with pytest.raises(tw.InvalidArgument) as info:
        _native.raise_core_error("nope")
    assert info.value.field == "kind"

"""Domain types: exact money, frozen values, enums (ROADMAP MKTD-06, RESL-06)."""

from __future__ import annotations

import pickle
from decimal import Decimal
from typing import Any

import pytest
import tradewire as tw


def trade(**overrides: Any) -> tw.Trade:
    fields: dict[str, Any] = {
        "venue": tw.Venue.BINANCE,
        "market": tw.Market.SPOT,
        "symbol": "BTCUSDT",
        "trade_id": "12345",
        "price": "50000.10",
        "qty": "0.001",
        "side": tw.Side.BUY,
        "exchange_time_ms": 1_700_000_000_000,
    }
    fields.update(overrides)
    return tw.Trade(**fields)


@pytest.mark.parametrize(
    "text",
    [
        "0.000000000000000001",  # 18 decimals
        "123456789.123456789012345678",  # 18 decimals, 27 digits
        "0.00100000",  # trailing zeros carry the venue's precision
        "79228162514264337593543950335",  # the largest value rust_decimal holds
        "-79228162514264337593543950335",
        "1234567890123456789012345678",
        "0",
    ],
)
def test_money_round_trips_without_losing_a_digit(text: str) -> None:
    for given in (text, Decimal(text)):
        level = tw.Level(given, given)
        # Same digits and same exponent: trailing zeros and all.
        assert level.price.as_tuple() == Decimal(text).as_tuple()
        assert level.qty == Decimal(text)
        assert isinstance(level.price, Decimal)


def test_int_and_scientific_decimal_inputs_are_exact() -> None:
    assert tw.Level(10**27, 1).price == Decimal(10**27)
    assert tw.Level(Decimal("1.5E-7"), 1).price == Decimal("0.00000015")
    assert tw.Level(Decimal("1E+3"), 1).price == 1000


def test_float_is_refused_with_a_reason() -> None:
    with pytest.raises(TypeError, match=r"'price' got a float.*cannot hold money exactly"):
        trade(price=50000.1)
    with pytest.raises(TypeError, match="'qty'"):
        tw.Level("1", 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bool"):
        tw.Level(True, 1)
    with pytest.raises(TypeError, match=r"must be decimal\.Decimal, str or int, not list"):
        tw.Level([1], 1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "not a decimal number"),
        ("1.2.3", "not a decimal number"),
        ("NaN", "not a decimal number"),
        (Decimal("Infinity"), "not a decimal number"),
        ("", "not a decimal number"),
        ("79228162514264337593543950336", "does not fit"),  # one above the maximum
        ("0.00000000000000000000000000001", "does not fit"),  # 29 decimals would round
        (Decimal("1E+40"), "does not fit"),
    ],
)
def test_malformed_or_unrepresentable_numbers_name_the_field(value: object, reason: str) -> None:
    with pytest.raises(tw.InvalidArgument, match=reason) as info:
        trade(qty=value)
    assert info.value.field == "qty"
    assert isinstance(info.value, ValueError)
    assert "'qty'" in str(info.value)


def test_values_are_frozen_comparable_and_hashable() -> None:
    a, b = trade(), trade()
    assert a == b
    assert hash(a) == hash(b)
    assert a != trade(trade_id="12346")
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.price = Decimal(1)  # type: ignore[misc]
    assert "price=Decimal('50000.10')" in repr(a)


def test_every_type_exposes_decimal_fields() -> None:
    ticker = tw.Ticker(
        venue=tw.Venue.BYBIT,
        market=tw.Market.LINEAR,
        symbol="BTCUSDT",
        last="1.5",
        volume_24h="10",
        quote_volume_24h="15",
        exchange_time_ms=1,
    )
    assert ticker.bid is None
    assert ticker.ask is None
    order = tw.Order(
        venue=tw.Venue.BINANCE,
        market=tw.Market.USDM,
        symbol="BTCUSDT",
        client_order_id="tw-1",
        side=tw.Side.SELL,
        order_type=tw.OrderType.LIMIT,
        status=tw.OrderStatus.UNKNOWN,
        time_in_force=tw.TimeInForce.GTC,
        price="100.5",
        qty="0.123456789012345678",
    )
    assert order.filled_qty == 0
    assert order.order_id == ""
    assert order.qty == Decimal("0.123456789012345678")
    fill = tw.Fill(
        venue=tw.Venue.BYBIT,
        market=tw.Market.SPOT,
        symbol="ETHUSDT",
        order_id="a0d8c0f8-5d5e-4a3f-9c7b-1b2c3d4e5f60",
        client_order_id="x",
        trade_id="18446744073709551615",  # above 2**53: kept as text, never a float
        side=tw.Side.BUY,
        price="2000",
        qty="1",
        fee="0.001",
        fee_asset="ETH",
        is_maker=True,
        exchange_time_ms=5,
    )
    assert fill.trade_id == "18446744073709551615"
    assert fill.fee == Decimal("0.001")
    balance = tw.Balance(venue=tw.Venue.BYBIT, market=tw.Market.SPOT, asset="USDT", free="1.5", locked="0.25")
    assert balance.total == Decimal("1.75")
    position = tw.Position(
        venue=tw.Venue.BYBIT,
        market=tw.Market.LINEAR,
        symbol="BTCUSDT",
        side=tw.PositionSide.SHORT,
        size="0.5",
        entry_price="60000",
        unrealized_pnl="-12.5",
        leverage="10",
    )
    assert position.unrealized_pnl == Decimal("-12.5")
    assert position.liquidation_price is None
    info = tw.SymbolInfo(
        venue=tw.Venue.BINANCE,
        market=tw.Market.SPOT,
        symbol="BTCUSDT",
        base_asset="BTC",
        quote_asset="USDT",
        status="TRADING",
        trading=True,
        tick_size="0.01",
        step_size="0.00001",
        min_qty="0.00001",
        price_precision=2,
        qty_precision=5,
        min_notional="5",
        raw_filters='[{"filterType": "PRICE_FILTER", "tickSize": "0.01"}]',
    )
    assert info.filters == [{"filterType": "PRICE_FILTER", "tickSize": "0.01"}]
    assert info.tick_size == Decimal("0.01")
    assert info.max_qty is None
    with pytest.raises(tw.InvalidArgument, match="raw_filters"):
        tw.SymbolInfo(
            venue=tw.Venue.BINANCE,
            market=tw.Market.SPOT,
            symbol="X",
            base_asset="A",
            quote_asset="B",
            status="TRADING",
            trading=True,
            tick_size="1",
            step_size="1",
            min_qty="1",
            price_precision=0,
            qty_precision=0,
            raw_filters="{not json",
        )


def test_order_status_covers_both_venues_and_unknown() -> None:
    names = set(tw.OrderStatus)
    binance = {
        "NEW",
        "PENDING_NEW",
        "PARTIALLY_FILLED",
        "FILLED",
        "CANCELED",
        "PENDING_CANCEL",
        "REJECTED",
        "EXPIRED",
        "EXPIRED_IN_MATCH",
    }
    # Bybit's words map to: Created→PENDING_NEW, Untriggered, Triggered, PartiallyFilledCanceled,
    # Deactivated (the rest coincide with Binance's).
    bybit_only = {"UNTRIGGERED", "TRIGGERED", "PARTIALLY_FILLED_CANCELED", "DEACTIVATED"}
    assert binance | bybit_only | {"UNKNOWN"} <= names
    assert tw.OrderStatus.FILLED.is_terminal
    assert not tw.OrderStatus.FILLED.is_open
    assert not tw.OrderStatus.UNKNOWN.is_terminal
    assert not tw.OrderStatus.UNKNOWN.is_open
    assert tw.OrderStatus.PARTIALLY_FILLED_CANCELED.is_terminal
    assert tw.OrderStatus.NEW.is_open


def test_enums_are_their_text_iterate_and_parse_in_any_case() -> None:
    assert tw.Side.BUY == "BUY" and tw.Side.SELL == "SELL"
    assert list(tw.Side) == ["BUY", "SELL"]
    by_text: dict[str, int] = {tw.Side.BUY: 1}
    assert by_text["BUY"] == 1  # hashes as its text
    assert f"{tw.OrderStatus.PARTIALLY_FILLED}" == "PARTIALLY_FILLED"
    market: str = tw.Market.USDM
    venue: str = tw.Venue.BYBIT
    assert market == "usdm" and venue == "bybit"
    assert tw.Side("buy") is tw.Side.BUY and tw.TimeInForce("post_only") is tw.TimeInForce.POST_ONLY
    assert tw.Side.parse("sElL") is tw.Side.SELL
    with pytest.raises(tw.InvalidArgument, match="'kraken' is not one of binance, bybit"):
        tw.Venue.parse("kraken")
    with pytest.raises(ValueError, match="'sideways' is not a valid Side"):
        tw.Side("sideways")


def test_values_from_rust_are_the_enum_members() -> None:
    t = trade(side="sell", venue="BYBIT", market="linear")
    assert t.side is tw.Side.SELL and t.venue is tw.Venue.BYBIT and t.market is tw.Market.LINEAR
    assert isinstance(t.side, str)


def test_enum_arguments_refuse_wrong_text_and_types() -> None:
    with pytest.raises(tw.InvalidArgument, match="'up' is not one of BUY, SELL"):
        trade(side="up")
    with pytest.raises(TypeError, match=r"expected tradewire\.Side or its text, not int"):
        trade(side=1)


def test_is_terminal_is_the_core_rule() -> None:
    terminal = {s for s in tw.OrderStatus if s.is_terminal}
    assert terminal == {
        "FILLED",
        "CANCELED",
        "PARTIALLY_FILLED_CANCELED",
        "REJECTED",
        "EXPIRED",
        "EXPIRED_IN_MATCH",
        "DEACTIVATED",
    }
    assert {s for s in tw.OrderStatus if s.is_open} == set(tw.OrderStatus) - terminal - {"UNKNOWN"}


def test_values_survive_pickling_as_errors_do() -> None:
    err = tw.RateLimited("slow down", venue="binance", code=-1003, venue_message="Too many", retry_after=2.0)
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is tw.RateLimited
    assert (back.code, back.venue_message, back.retry_after, str(back)) == (
        -1003,
        "Too many",
        2.0,
        "slow down",
    )

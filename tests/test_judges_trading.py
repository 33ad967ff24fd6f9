"""Judges of trading breadth (issue 21, item 6; DESIGN.md decision 6): the official SDKs,
pybit and ccxt (``editOrder``, ``createOrders``, ``cancelOrders``, ``setLeverage``,
``setMarginMode``, ``setPositionMode``) drive the simulator's amend, batch and settings
endpoints unmodified but for URLs, and the simulator's own ledger shows what each did."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from tradewire.testing import Simulator

from .test_judges import no_warnings, point_ccxt_at, spot_client, usdm_client
from .trading import sim_order, trader


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


def only(sim: Simulator, venue: str, market: str, order_id: object) -> tuple[object, ...]:
    found = [o for o in sim.orders(venue, market) if o.order_id == str(order_id)]
    assert len(found) == 1
    return (found[0].status.name, found[0].price, found[0].qty)


def test_binance_spot_sdk_amend_and_cancel_replace(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    from binance_sdk_spot.rest_api.models import (
        NewOrderSideEnum,
        NewOrderTimeInForceEnum,
        NewOrderTypeEnum,
        OrderCancelReplaceCancelReplaceModeEnum,
        OrderCancelReplaceSideEnum,
        OrderCancelReplaceTimeInForceEnum,
        OrderCancelReplaceTypeEnum,
    )

    caplog.set_level(logging.WARNING)
    rest = spot_client(sim).rest_api
    bid = Decimal(rest.depth(symbol="BTCUSDT", limit=5).data().bids[0][0])
    placed = rest.new_order(
        symbol="BTCUSDT",
        side=NewOrderSideEnum.BUY,
        type=NewOrderTypeEnum.LIMIT,
        time_in_force=NewOrderTimeInForceEnum.GTC,
        quantity=Decimal("0.00300"),
        price=bid - 100,
        new_client_order_id="sdk-am",
    ).data()
    amended = rest.order_amend_keep_priority(
        symbol="BTCUSDT", new_qty=Decimal("0.002"), order_id=placed.order_id, new_client_order_id="sdk-am"
    ).data()
    assert amended.amended_order.order_id == placed.order_id
    assert Decimal(amended.amended_order.qty) == Decimal("0.002")
    assert only(sim, "binance", "spot", placed.order_id) == ("NEW", bid - 100, Decimal("0.002"))
    replaced = rest.order_cancel_replace(
        symbol="BTCUSDT",
        side=OrderCancelReplaceSideEnum.BUY,
        type=OrderCancelReplaceTypeEnum.LIMIT,
        cancel_replace_mode=OrderCancelReplaceCancelReplaceModeEnum.STOP_ON_FAILURE,
        time_in_force=OrderCancelReplaceTimeInForceEnum.GTC,
        quantity=Decimal("0.002"),
        price=bid - 101,
        cancel_order_id=placed.order_id,
    ).data()
    assert (replaced.cancel_result, replaced.new_order_result) == ("SUCCESS", "SUCCESS")
    assert only(sim, "binance", "spot", placed.order_id)[0] == "CANCELED"
    new_id = replaced.new_order_response.order_id
    assert only(sim, "binance", "spot", new_id) == ("NEW", bid - 101, Decimal("0.002"))
    rest.delete_order(symbol="BTCUSDT", order_id=new_id)
    no_warnings(caplog)


def test_binance_usdm_sdk_modify(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rest = usdm_client(sim).rest_api
    bid = Decimal(rest.order_book(symbol="BTCUSDT", limit=5).data().bids[0][0])
    placed = rest.new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        time_in_force="GTC",
        quantity=Decimal("0.002"),
        price=bid - 50,
    ).data()
    modified = rest.modify_order(
        symbol="BTCUSDT", side="BUY", quantity=Decimal("0.004"), price=bid - 60, order_id=placed.order_id
    ).data()
    assert modified.order_id == placed.order_id
    assert (Decimal(modified.orig_qty), Decimal(modified.price)) == (Decimal("0.004"), bid - 60)
    assert only(sim, "binance", "usdm", placed.order_id) == ("NEW", bid - 60, Decimal("0.004"))
    rest.cancel_order(symbol="BTCUSDT", order_id=placed.order_id)
    no_warnings(caplog)


def test_pybit_amend_order(sim: Simulator) -> None:
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    for category in ("linear", "spot"):
        book = session.get_orderbook(category=category, symbol="BTCUSDT", limit=5)["result"]
        bid = Decimal(book["b"][0][0])
        link = f"pybit-am-{category}"
        session.place_order(
            category=category, symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.002",
            price=str(bid - 100), orderLinkId=link,
        )  # fmt: skip
        answer = session.amend_order(
            category=category, symbol="BTCUSDT", orderLinkId=link, qty="0.001", price=str(bid - 90)
        )
        assert answer["retCode"] == 0 and answer["result"]["orderLinkId"] == link
        market = "linear" if category == "linear" else "spot"
        o = sim_order(sim, "bybit", market, link)
        assert (o.status.name, o.price, o.qty) == ("NEW", bid - 90, Decimal("0.001"))
        session.cancel_order(category=category, symbol="BTCUSDT", orderLinkId=link)


@pytest.mark.asyncio
async def test_ccxt_edit_order(sim: Simulator) -> None:
    """ccxt's ``editOrder``: cancel-replace on Binance spot, modify on USD-M, amend on Bybit."""
    import ccxt.async_support as ccxt

    keys = sim.account("binance")
    spot = ccxt.binance({"apiKey": keys.api_key, "secret": keys.api_secret})
    spot.options["fetchMarkets"] = {"types": ["spot"]}
    point_ccxt_at(spot, sim.endpoints("binance", "spot").rest)
    usdm = ccxt.binanceusdm({"apiKey": keys.api_key, "secret": keys.api_secret})
    point_ccxt_at(
        usdm, sim.endpoints("binance", "usdm").rest, {"sapi": sim.endpoints("binance", "spot").rest}
    )
    bybit_keys = sim.account("bybit")
    bybit = ccxt.bybit({"apiKey": bybit_keys.api_key, "secret": bybit_keys.api_secret})
    bybit.options["fetchMarkets"] = {"types": ["linear"]}
    bybit.urls["api"]["public"] = bybit.urls["api"]["private"] = sim.endpoints("bybit", "linear").rest
    cases = [(spot, "BTC/USDT", "binance", "spot"), (usdm, "BTC/USDT:USDT", "binance", "usdm"),
             (bybit, "BTC/USDT:USDT", "bybit", "linear")]  # fmt: skip
    try:
        for ex, symbol, venue, market in cases:
            await ex.load_markets()
            bid = (await ex.fetch_order_book(symbol, 5))["bids"][0][0]
            order = await ex.create_order(symbol, "limit", "buy", 0.002, bid - 100)
            edited = await ex.edit_order(order["id"], symbol, "limit", "buy", 0.003, bid - 110)
            status, price, qty = only(sim, venue, market, edited["id"])
            assert (status, price, qty) == ("NEW", Decimal(str(bid - 110)), Decimal("0.003")), venue
            if (venue, market) == ("binance", "spot"):
                assert edited["id"] != order["id"]
                assert only(sim, venue, market, order["id"])[0] == "CANCELED"
            else:
                assert edited["id"] == order["id"]
            await ex.cancel_order(edited["id"], symbol)
    finally:
        for ex, *_ in cases:
            await ex.close()


def test_binance_usdm_sdk_batches(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    from binance_sdk_derivatives_trading_usds_futures.rest_api.models import (
        ModifyMultipleOrdersBatchOrdersParameterInner as Modify,
    )
    from binance_sdk_derivatives_trading_usds_futures.rest_api.models import (
        PlaceMultipleOrdersBatchOrdersParameterInner as Place,
    )

    caplog.set_level(logging.WARNING)
    rest = usdm_client(sim).rest_api
    bid = Decimal(rest.order_book(symbol="BTCUSDT", limit=5).data().bids[0][0])
    placed = rest.place_multiple_orders(
        batch_orders=[
            Place(  # type: ignore[call-arg]  # the SDK's models take field names and aliases
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                time_in_force="GTC",
                # The SDK's batch models take floats (its own contract; the wire gets text).
                quantity=0.002,
                price=float(bid - 50 - k),
            )
            for k in range(3)
        ]
    ).data()
    ids = [o.order_id for o in placed]
    assert len(ids) == 3 and all(ids)
    assert {only(sim, "binance", "usdm", i)[0] for i in ids} == {"NEW"}
    modified = rest.modify_multiple_orders(
        batch_orders=[
            Modify(symbol="BTCUSDT", side="BUY", quantity=0.003, price=float(bid - 70), order_id=ids[0])  # type: ignore[call-arg]
        ]
    ).data()
    assert modified[0].order_id == ids[0]
    assert only(sim, "binance", "usdm", ids[0]) == ("NEW", bid - 70, Decimal("0.003"))
    canceled = rest.cancel_multiple_orders(symbol="BTCUSDT", order_id_list=ids).data()
    assert [o.status for o in canceled] == ["CANCELED"] * 3
    no_warnings(caplog)


def test_pybit_batches(sim: Simulator) -> None:
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    bid = Decimal(session.get_orderbook(category="linear", symbol="BTCUSDT", limit=5)["result"]["b"][0][0])
    order = {"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001"}
    request = [{**order, "price": str(bid - 100 - k), "orderLinkId": f"pb-{k}"} for k in range(3)]
    placed = session.place_batch_order(category="linear", request=request)
    assert [i["code"] for i in placed["retExtInfo"]["list"]] == [0, 0, 0]
    assert [o["orderLinkId"] for o in placed["result"]["list"]] == ["pb-0", "pb-1", "pb-2"]
    amended = session.amend_batch_order(
        category="linear", request=[{"symbol": "BTCUSDT", "orderLinkId": "pb-0", "qty": "0.002"}]
    )
    assert amended["retExtInfo"]["list"][0]["code"] == 0
    assert sim_order(sim, "bybit", "linear", "pb-0").qty == Decimal("0.002")
    canceled = session.cancel_batch_order(
        category="linear",
        request=[{"symbol": "BTCUSDT", "orderLinkId": f"pb-{k}"} for k in (0, 1, 2, 9)],
    )
    assert [i["code"] for i in canceled["retExtInfo"]["list"]] == [0, 0, 0, 110001]
    assert {sim_order(sim, "bybit", "linear", f"pb-{k}").status.name for k in range(3)} == {"CANCELED"}


@pytest.mark.asyncio
async def test_ccxt_create_orders(sim: Simulator) -> None:
    """ccxt's ``createOrders`` / ``cancelOrders``: the venues' batch endpoints."""
    usdm, bybit = ccxt_perpetuals(sim)
    cases = [(usdm, "binance"), (bybit, "bybit")]
    try:
        for ex, venue in cases:
            await ex.load_markets()
            symbol = "BTC/USDT:USDT"
            bid = (await ex.fetch_order_book(symbol, 5))["bids"][0][0]
            orders = await ex.create_orders(
                [
                    {
                        "symbol": symbol,
                        "type": "limit",
                        "side": "buy",
                        "amount": 0.002,
                        "price": bid - 100 - k,
                    }
                    for k in range(2)
                ]
            )
            ids = [o["id"] for o in orders]
            assert len(ids) == 2 and all(ids), orders
            assert {only(sim, venue, "linear" if venue == "bybit" else "usdm", i)[0] for i in ids} == {"NEW"}
            await ex.cancel_orders(ids, symbol)
            assert {only(sim, venue, "linear" if venue == "bybit" else "usdm", i)[0] for i in ids} == {
                "CANCELED"
            }
    finally:
        for ex, _ in cases:
            await ex.close()


def test_binance_usdm_sdk_settings(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rest = usdm_client(sim).rest_api
    assert rest.change_initial_leverage(symbol="BTCUSDT", leverage=9).data().leverage == 9
    assert rest.change_margin_type(symbol="BTCUSDT", margin_type="ISOLATED").data().code == 200
    assert rest.change_position_mode(dual_side_position="true").data().code == 200
    assert rest.get_current_position_mode().data().dual_side_position is True
    rest.change_position_mode(dual_side_position="false")
    no_warnings(caplog)


def test_pybit_settings(sim: Simulator) -> None:
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    assert (
        session.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="6", sellLeverage="6")[
            "retCode"
        ]
        == 0
    )
    assert session.switch_position_mode(category="linear", symbol="BTCUSDT", mode=3)["retCode"] == 0
    listed = session.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert sorted(p["positionIdx"] for p in listed) == [1, 2]
    assert session.set_margin_mode(setMarginMode="ISOLATED_MARGIN")["retCode"] == 0
    assert session.get_account_info()["result"]["marginMode"] == "ISOLATED_MARGIN"


def ccxt_perpetuals(sim: Simulator) -> tuple[Any, Any]:
    """ccxt's Binance USD-M and Bybit linear clients, keyed, pointed at the simulator."""
    import ccxt.async_support as ccxt

    keys = sim.account("binance")
    usdm = ccxt.binanceusdm({"apiKey": keys.api_key, "secret": keys.api_secret})
    point_ccxt_at(
        usdm, sim.endpoints("binance", "usdm").rest, {"sapi": sim.endpoints("binance", "spot").rest}
    )
    bybit_keys = sim.account("bybit")
    bybit = ccxt.bybit({"apiKey": bybit_keys.api_key, "secret": bybit_keys.api_secret})
    bybit.options["fetchMarkets"] = {"types": ["linear"]}
    bybit.urls["api"]["public"] = bybit.urls["api"]["private"] = sim.endpoints("bybit", "linear").rest
    return usdm, bybit


@pytest.mark.asyncio
async def test_ccxt_settings(sim: Simulator) -> None:
    """ccxt's ``setLeverage``, ``setMarginMode``, ``setPositionMode``."""
    usdm, bybit = ccxt_perpetuals(sim)
    try:
        for ex in (usdm, bybit):
            await ex.load_markets()
            await ex.set_leverage(4, "BTC/USDT:USDT")
            await ex.set_position_mode(True, "BTC/USDT:USDT")
        await usdm.set_margin_mode("isolated", "BTC/USDT:USDT")
    finally:
        for ex in (usdm, bybit):
            await ex.close()
    async with trader(sim, "binance", "usdm") as c:
        s = await c.settings("BTCUSDT")
        assert (s.leverage, s.margin_mode, s.position_mode) == (Decimal(4), "ISOLATED", "HEDGE")
    async with trader(sim, "bybit", "linear") as c:
        s = await c.settings("BTCUSDT")
        assert (s.leverage, s.position_mode) == (Decimal(4), "HEDGE")


def test_binance_usdm_sdk_hedge_orders(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """Hedge mode through the official SDK: orders on a leg (``positionSide``), legs listed by
    ``position_information_v3``; ``reduceOnly`` beside a leg is refused (-1106)."""
    caplog.set_level(logging.WARNING)
    rest = usdm_client(sim).rest_api
    rest.change_position_mode(dual_side_position="true")
    rest.new_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.004"), position_side="LONG"
    )
    rest.new_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal("0.003"), position_side="SHORT"
    )
    rest.new_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal("0.001"), position_side="LONG"
    )
    legs = {
        p.position_side: Decimal(p.position_amt)
        for p in rest.position_information_v3(symbol="BTCUSDT").data()
    }
    assert legs == {"LONG": Decimal("0.003"), "SHORT": Decimal("-0.003")}
    truth = sim.positions("binance", "usdm")
    assert (truth["BTCUSDT-LONG"].size, truth["BTCUSDT-SHORT"].size) == (Decimal("0.003"), Decimal("0.003"))
    with pytest.raises(Exception, match=r"-1106|reduceOnly"):
        rest.new_order(
            symbol="BTCUSDT", side="SELL", type="MARKET", quantity=Decimal("0.001"), position_side="LONG",
            reduce_only="true",
        )  # fmt: skip
    no_warnings(caplog)


def test_pybit_hedge_orders(sim: Simulator) -> None:
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    session.switch_position_mode(category="linear", symbol="BTCUSDT", mode=3)
    for side, idx, qty in (("Buy", 1, "0.004"), ("Sell", 2, "0.002")):
        answer = session.place_order(
            category="linear", symbol="BTCUSDT", side=side, orderType="Market", qty=qty, positionIdx=idx
        )
        assert answer["retCode"] == 0
    # A close larger than its leg is trimmed to it (Bybit's reduce-only rule).
    session.place_order(
        category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.010", positionIdx=2,
        reduceOnly=True,
    )  # fmt: skip
    listed = session.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert {p["positionIdx"]: (p["side"], p["size"]) for p in listed} == {1: ("Buy", "0.004"), 2: ("", "0")}
    assert set(sim.positions("bybit", "linear")) == {"BTCUSDT-LONG"}


@pytest.mark.asyncio
async def test_ccxt_hedge_orders(sim: Simulator) -> None:
    """ccxt's ``createOrder`` on a hedge-mode leg and ``fetchPositions`` of both legs."""
    usdm, bybit = ccxt_perpetuals(sim)
    try:
        for ex, long_leg, short_leg in (
            (usdm, {"positionSide": "LONG"}, {"positionSide": "SHORT"}),
            (bybit, {"positionIdx": 1}, {"positionIdx": 2}),
        ):
            await ex.load_markets()
            await ex.set_position_mode(True, "BTC/USDT:USDT")
            await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.005, None, long_leg)
            await ex.create_order("BTC/USDT:USDT", "market", "sell", 0.002, None, short_leg)
            positions = await ex.fetch_positions(["BTC/USDT:USDT"])
            held = {p["side"]: p["contracts"] for p in positions if p["contracts"]}
            assert held == {"long": 0.005, "short": 0.002}, ex.id
    finally:
        for ex in (usdm, bybit):
            await ex.close()
    for venue, market in (("binance", "usdm"), ("bybit", "linear")):
        truth = sim.positions(venue, market)
        assert (truth["BTCUSDT-LONG"].size, truth["BTCUSDT-SHORT"].size) == (
            Decimal("0.005"),
            Decimal("0.002"),
        )


def test_pybit_conditional_orders(sim: Simulator) -> None:
    """pybit's conditional orders: linear `triggerPrice` + `triggerDirection`, spot
    `orderFilter=StopOrder`; they wait UNTRIGGERED, fire on a trade at the trigger, and a spot
    one is canceled only through its filter."""
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    for category in ("linear", "spot"):
        ask = Decimal(
            session.get_orderbook(category=category, symbol="BTCUSDT", limit=1)["result"]["a"][0][0]
        )
        extra = {"triggerDirection": 1} if category == "linear" else {"orderFilter": "StopOrder"}
        for link in (f"pb-stop-{category}", f"pb-rest-{category}"):
            trigger = ask if link.startswith("pb-stop") else ask + 500
            answer = session.place_order(
                category=category, symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.010",
                marketUnit="baseCoin", triggerPrice=str(trigger), orderLinkId=link, **extra,
            )  # fmt: skip
            assert answer["retCode"] == 0, answer
        listed = session.get_open_orders(category=category, symbol="BTCUSDT")["result"]["list"]
        assert {o["orderLinkId"]: o["orderStatus"] for o in listed} == {
            f"pb-stop-{category}": "Untriggered",
            f"pb-rest-{category}": "Untriggered",
        }
        session.place_order(
            category=category,
            symbol="BTCUSDT",
            side="Buy",
            orderType="Market",
            qty="0.010",
            marketUnit="baseCoin",
        )
        assert sim_order(sim, "bybit", category, f"pb-stop-{category}").status.name == "FILLED"
        if category == "spot":
            with pytest.raises(Exception, match="170213"):
                session.cancel_order(category=category, symbol="BTCUSDT", orderLinkId=f"pb-rest-{category}")
            extra = {"orderFilter": "StopOrder"}
        else:
            extra = {}
        session.cancel_order(category=category, symbol="BTCUSDT", orderLinkId=f"pb-rest-{category}", **extra)
        assert sim_order(sim, "bybit", category, f"pb-rest-{category}").status.name == "CANCELED"


def test_binance_spot_sdk_stop_orders(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """The official spot SDK's stop orders (``STOP_LOSS_LIMIT`` with ``stopPrice``): NEW and not
    working until a trade reaches the stop price, then on the book; one on the wrong side is
    refused with -2010 "Order would trigger immediately."; and the USD-M SDK's old-style stop
    is refused with -4120 (conditional orders live in the algo service since 2025-12-09)."""
    caplog.set_level(logging.WARNING)
    rest = spot_client(sim).rest_api
    ask = Decimal(rest.depth(symbol="BTCUSDT", limit=5).data().asks[0][0])
    placed = rest.new_order(
        symbol="BTCUSDT", side="BUY", type="STOP_LOSS_LIMIT", time_in_force="GTC", quantity=Decimal("0.01"),
        price=ask - 1000, stop_price=ask, new_client_order_id="sdk-stop",
    ).data()  # fmt: skip
    query = rest.get_order(symbol="BTCUSDT", order_id=placed.order_id).data()
    assert (query.status, query.type, Decimal(query.stop_price), query.is_working) == (
        "NEW", "STOP_LOSS_LIMIT", ask, False,
    )  # fmt: skip
    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"))
    query = rest.get_order(symbol="BTCUSDT", order_id=placed.order_id).data()
    assert (query.status, query.is_working) == ("NEW", True), "triggered: a limit order on the book"
    rest.delete_order(symbol="BTCUSDT", order_id=placed.order_id)
    with pytest.raises(Exception, match=r"-2010|trigger immediately"):
        rest.new_order(
            symbol="BTCUSDT", side="BUY", type="STOP_LOSS", quantity=Decimal("0.01"), stop_price=ask - 1000
        )
    usdm = usdm_client(sim).rest_api
    with pytest.raises(Exception, match=r"-4120|Algo Order"):
        usdm.new_order(symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=Decimal("0.01"))
    no_warnings(caplog)


def test_binance_usdm_sdk_algo_orders(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """The official USD-M SDK's algo service: a STOP_MARKET placed, found by algo id and in the
    open algo orders, triggered by a trade into an order of its own found by the client algo id
    on the order endpoint; a TAKE_PROFIT canceled by algo id, and cancel-all of the service."""
    caplog.set_level(logging.WARNING)
    rest = usdm_client(sim).rest_api
    ask = Decimal(rest.order_book(symbol="BTCUSDT", limit=5).data().asks[0][0])
    placed = rest.new_algo_order(
        algo_type="CONDITIONAL", symbol="BTCUSDT", side="BUY", type="STOP_MARKET", quantity=Decimal("0.01"),
        trigger_price=ask, client_algo_id="sdk-algo",
    ).data()  # fmt: skip
    assert (placed.algo_status, placed.order_type, Decimal(placed.trigger_price)) == (
        "NEW",
        "STOP_MARKET",
        ask,
    )
    found = rest.query_algo_order(algo_id=placed.algo_id).data()
    assert (found.client_algo_id, found.algo_status, found.actual_order_id) == ("sdk-algo", "NEW", "")
    listed = rest.current_all_algo_open_orders(symbol="BTCUSDT").data()
    assert [o.algo_id for o in listed] == [placed.algo_id]
    with pytest.raises(Exception, match=r"-2013|does not exist"):
        rest.query_order(symbol="BTCUSDT", orig_client_order_id="sdk-algo")
    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=Decimal("0.01"))
    done = rest.query_algo_order(client_algo_id="sdk-algo").data()
    assert done.algo_status == "FINISHED" and done.actual_order_id
    became = rest.query_order(symbol="BTCUSDT", orig_client_order_id="sdk-algo").data()
    assert (str(became.order_id), became.status) == (done.actual_order_id, "FILLED")
    assert sim_order(sim, "binance", "usdm", "sdk-algo").order_id == done.actual_order_id
    tp = rest.new_algo_order(
        algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="TAKE_PROFIT", quantity=Decimal("0.01"),
        price=ask + 2000, trigger_price=ask + 1000, client_algo_id="sdk-tp",
    ).data()  # fmt: skip
    canceled = rest.cancel_algo_order(algo_id=tp.algo_id).data()
    assert (canceled.algo_id, canceled.code) == (tp.algo_id, "200")
    assert rest.query_algo_order(algo_id=tp.algo_id).data().algo_status == "CANCELED"
    rest.new_algo_order(
        algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=Decimal("0.01"),
        trigger_price=ask - 1000, working_type="MARK_PRICE", client_algo_id="sdk-sl",
    )  # fmt: skip
    assert rest.cancel_all_algo_open_orders(symbol="BTCUSDT").data().code == 200
    assert sim_order(sim, "binance", "usdm", "sdk-sl").status.name == "CANCELED"
    no_warnings(caplog)


@pytest.mark.asyncio
async def test_ccxt_binance_conditional_orders(sim: Simulator) -> None:
    """ccxt's ``createOrder`` with ``stopPrice`` on Binance USD-M goes to the algo service;
    ``fetchOpenOrders`` / ``cancelOrder`` with ``trigger`` reach it there."""
    usdm, bybit = ccxt_perpetuals(sim)
    await bybit.close()
    try:
        await usdm.load_markets()
        book = await usdm.fetch_order_book("BTC/USDT:USDT", 5)
        ask = book["asks"][0][0]
        stop = await usdm.create_order(
            "BTC/USDT:USDT", "market", "buy", 0.01, None, {"stopPrice": ask + 500, "clientAlgoId": "cx-algo"}
        )
        listed = await usdm.fetch_open_orders("BTC/USDT:USDT", None, None, {"trigger": True})
        assert [o["id"] for o in listed] == [stop["id"]]
        await usdm.cancel_order(stop["id"], "BTC/USDT:USDT", {"trigger": True})
    finally:
        await usdm.close()
    assert sim_order(sim, "binance", "usdm", "cx-algo").status.name == "CANCELED"


def test_binance_spot_sdk_oco(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """The official spot SDK's ``order_list_oco``: a SELL list of a LIMIT_MAKER above the last
    price and a STOP_LOSS_LIMIT below it, both in the answer's ``orderReports`` under one
    ``orderListId``; canceling one leg cancels the list; prices not bracketing the last price
    are refused with -2010."""
    caplog.set_level(logging.WARNING)
    rest = spot_client(sim).rest_api
    book = rest.depth(symbol="BTCUSDT", limit=5).data()
    bid, ask = Decimal(book.bids[0][0]), Decimal(book.asks[0][0])
    placed = rest.order_list_oco(
        symbol="BTCUSDT", side="SELL", quantity=Decimal("0.01"), above_type="LIMIT_MAKER",
        above_price=ask + 100, above_client_order_id="sdk-tp", below_type="STOP_LOSS_LIMIT",
        below_stop_price=bid - 100,
        below_price=bid - 150, below_time_in_force="GTC", below_client_order_id="sdk-sl",
        list_client_order_id="sdk-list",
    ).data()  # fmt: skip
    assert placed.list_client_order_id == "sdk-list" and placed.contingency_type == "OCO"
    reports = {r.client_order_id: r for r in placed.order_reports}
    assert (reports["sdk-tp"].type, reports["sdk-sl"].type) == ("LIMIT_MAKER", "STOP_LOSS_LIMIT")
    assert {r.order_list_id for r in placed.order_reports} == {placed.order_list_id}
    rest.delete_order(symbol="BTCUSDT", orig_client_order_id="sdk-sl")
    assert sim_order(sim, "binance", "spot", "sdk-tp").status.name == "CANCELED"
    with pytest.raises(Exception, match=r"-2010|relationship of the prices"):
        rest.order_list_oco(
            symbol="BTCUSDT", side="SELL", quantity=Decimal("0.01"), above_type="LIMIT_MAKER",
            above_price=ask + 100, below_type="STOP_LOSS", below_stop_price=ask + 50,
        )  # fmt: skip
    no_warnings(caplog)


def attached(sim: Simulator, parent: str) -> dict[str, Any]:
    """The simulator's exits armed for the Bybit linear entry `parent`, by kind name."""
    found = [o for o in sim.orders("bybit", "linear") if o.parent_client_order_id == parent]
    return {o.trigger_kind.name: o for o in found if o.trigger_kind is not None}


def test_pybit_take_profit_stop_loss(sim: Simulator) -> None:
    """pybit's TP/SL: create-order `takeProfit` / `stopLoss` in partial mode (a limit
    take-profit), armed for what filled under the entry's orderLinkId; `set_trading_stop` sets
    the position's own, which the position then shows."""
    from pybit.unified_trading import HTTP

    keys = sim.account("bybit")
    session = HTTP(testnet=False, api_key=keys.api_key, api_secret=keys.api_secret)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    ask = Decimal(session.get_orderbook(category="linear", symbol="BTCUSDT", limit=1)["result"]["a"][0][0])
    answer = session.place_order(
        category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.010",
        orderLinkId="pb-tpsl", takeProfit=str(ask + 300), stopLoss=str(ask - 300),
        tpslMode="Partial", tpOrderType="Limit",
        tpLimitPrice=str(ask + 299), slOrderType="Market", tpTriggerBy="MarkPrice",
    )  # fmt: skip
    assert answer["retCode"] == 0, answer
    exits = attached(sim, "pb-tpsl")
    assert set(exits) == {"TAKE_PROFIT", "STOP"}
    tp, sl = exits["TAKE_PROFIT"], exits["STOP"]
    assert (tp.trigger_price, tp.price, tp.qty) == (ask + 300, ask + 299, Decimal("0.01"))
    assert tp.trigger_by.name == "MARK"
    assert (sl.trigger_price, sl.price, sl.qty) == (ask - 300, None, Decimal("0.01"))
    listed = session.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
    kinds = {o["stopOrderType"]: o for o in listed}
    assert set(kinds) == {"PartialTakeProfit", "PartialStopLoss"}
    assert {o["parentOrderLinkId"] for o in listed} == {"pb-tpsl"}
    answer = session.set_trading_stop(
        category="linear", symbol="BTCUSDT", takeProfit=str(ask + 400), stopLoss=str(ask - 400),
        tpslMode="Full", positionIdx=0,
    )  # fmt: skip
    assert answer["retCode"] == 0, answer
    position = session.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert (Decimal(position["takeProfit"]), Decimal(position["stopLoss"])) == (ask + 400, ask - 400)
    answer = session.set_trading_stop(
        category="linear", symbol="BTCUSDT", trailingStop="50", activePrice=str(ask + 100), tpslMode="Full",
        positionIdx=0,
    )  # fmt: skip
    assert answer["retCode"] == 0, answer
    assert sim.positions("bybit", "linear")["BTCUSDT"].trailing_stop == 50
    listed = session.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"]
    trailer = next(o for o in listed if o["stopOrderType"] == "TrailingStop")
    assert Decimal(trailer["triggerPrice"]) == ask + 100, "its activation price until active"


@pytest.mark.asyncio
async def test_ccxt_bybit_take_profit_stop_loss(sim: Simulator) -> None:
    """ccxt's ``createOrder`` with ``takeProfit`` / ``stopLoss`` on Bybit (no ``tpslMode``: the
    venue's full mode) makes them the position's own once the entry fills."""
    usdm, bybit = ccxt_perpetuals(sim)
    await usdm.close()
    try:
        await bybit.load_markets()
        ask = (await bybit.fetch_order_book("BTC/USDT:USDT", 5))["asks"][0][0]
        await bybit.create_order(
            "BTC/USDT:USDT", "market", "buy", 0.01, ask,
            {"takeProfit": {"triggerPrice": ask + 300}, "stopLoss": {"triggerPrice": ask - 300},
             "clientOrderId": "cx-tpsl"},
        )  # fmt: skip
    finally:
        await bybit.close()
    assert attached(sim, "cx-tpsl") == {}, "full mode: not the entry's, the position's"
    position = sim.positions("bybit", "linear")["BTCUSDT"]
    assert (position.take_profit, position.stop_loss) == (Decimal(str(ask + 300)), Decimal(str(ask - 300)))


def test_binance_sdks_trailing_stops(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    """The official SDKs' trailing stops: USD-M's algo ``TRAILING_STOP_MARKET`` (``callbackRate``,
    ``activatePrice``) and spot's ``STOP_LOSS`` with ``trailingDelta``, as placed, queried and
    canceled; the USD-M service refuses a rate past 10% (-2007) and the spot filter a delta past
    its TRAILING_DELTA bounds."""
    caplog.set_level(logging.WARNING)
    usdm = usdm_client(sim).rest_api
    ask = Decimal(usdm.order_book(symbol="BTCUSDT", limit=5).data().asks[0][0])
    placed = usdm.new_algo_order(
        algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET",
        quantity=Decimal("0.01"), callback_rate=1.5, activate_price=float(ask + 100),
        client_algo_id="sdk-trail",
    ).data()  # fmt: skip
    assert (placed.algo_status, placed.order_type, placed.callback_rate) == (
        "NEW",
        "TRAILING_STOP_MARKET",
        "1.5",
    )
    assert Decimal(placed.activate_price) == ask + 100
    listed = usdm.current_all_algo_open_orders(symbol="BTCUSDT").data()
    assert [o.client_algo_id for o in listed] == ["sdk-trail"]
    usdm.cancel_algo_order(algo_id=placed.algo_id)
    assert sim_order(sim, "binance", "usdm", "sdk-trail").status.name == "CANCELED"
    with pytest.raises(Exception, match=r"-2007|callBack"):
        usdm.new_algo_order(
            algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET",
            quantity=Decimal("0.01"), callback_rate=12,
        )  # fmt: skip
    spot = spot_client(sim).rest_api
    order = spot.new_order(
        symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity=Decimal("0.01"), trailing_delta=50,
        new_client_order_id="sdk-delta",
    ).data()  # fmt: skip
    query = spot.get_order(symbol="BTCUSDT", order_id=order.order_id).data()
    assert (query.type, query.trailing_delta, query.status) == ("STOP_LOSS", 50, "NEW")
    assert sim_order(sim, "binance", "spot", "sdk-delta").callback_rate == Decimal("0.5")
    spot.delete_order(symbol="BTCUSDT", order_id=order.order_id)
    with pytest.raises(Exception, match=r"-1013|TRAILING_DELTA"):
        spot.new_order(
            symbol="BTCUSDT", side="SELL", type="STOP_LOSS", quantity=Decimal("0.01"), trailing_delta=5000
        )
    no_warnings(caplog)

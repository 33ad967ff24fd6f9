"""The simulator speaks Bybit v5: REST envelope and signing, limits, orders on both categories
with one unified account, public topics (orderbook snapshot + delta with u and seq, trades,
tickers), the private stream, and faults (restart with u=1, skipped deltas)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websockets
from tradewire.testing import Simulator

from tests.bybit_client import BybitRest
from tests.wire import first, recv_json


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=21, steps_per_second=200) as running:
        yield running


@pytest.fixture
def frozen_sim() -> Iterator[Simulator]:
    with Simulator(seed=22, steps_per_second=0) as running:
        yield running


def client(sim: Simulator) -> BybitRest:
    return BybitRest(sim.endpoints("bybit", "linear").rest, sim.account("bybit"))


async def next_topic(ws: Any, prefix: str) -> Any:
    return await first(ws, lambda m: str(m.get("topic", "")).startswith(prefix), f"{prefix} message")


def test_market_endpoints_and_envelope(sim: Simulator) -> None:
    c = client(sim)
    status, body, _ = c.request("GET", "/v5/market/time")
    assert status == 200
    assert body["retCode"] == 0 and body["retMsg"] == "OK"
    assert isinstance(body["result"]["timeSecond"], str) and isinstance(body["time"], int)
    _, spot, _ = c.request("GET", "/v5/market/instruments-info", {"category": "spot", "symbol": "BTCUSDT"})
    (btc,) = spot["result"]["list"]
    assert btc["lotSizeFilter"]["basePrecision"] == "0.00001" and btc["priceFilter"]["tickSize"] == "0.01"
    _, linear, _ = c.request("GET", "/v5/market/instruments-info", {"category": "linear"})
    assert {i["symbol"] for i in linear["result"]["list"]} >= {"BTCUSDT", "ETHUSDT"}
    assert linear["result"]["list"][0]["lotSizeFilter"]["minNotionalValue"] == "5"
    _, book, _ = c.request(
        "GET", "/v5/market/orderbook", {"category": "linear", "symbol": "BTCUSDT", "limit": 5}
    )
    result = book["result"]
    assert set(result) == {"s", "b", "a", "ts", "u", "seq", "cts"} and len(result["b"]) == 5
    assert Decimal(result["b"][0][0]) > Decimal(result["b"][1][0]), "bids descending"
    _, tickers, _ = c.request("GET", "/v5/market/tickers", {"category": "spot", "symbol": "ETHUSDT"})
    assert tickers["result"]["list"][0]["symbol"] == "ETHUSDT"
    _, bad, _ = c.request("GET", "/v5/market/orderbook", {"category": "spot", "symbol": "NOPE"})
    assert bad["retCode"] == 170121
    _, no_category, _ = c.request("GET", "/v5/market/tickers", {"symbol": "BTCUSDT"})
    assert no_category["retCode"] == 10001


def test_signing_and_recv_window(sim: Simulator) -> None:
    c = client(sim)
    params = {"accountType": "UNIFIED"}
    status, ok, headers = c.request("GET", "/v5/account/wallet-balance", params, signed=True)
    assert (status, ok["retCode"]) == (200, 0)
    assert headers["X-Bapi-Limit"] == "50" and headers["X-Bapi-Limit-Status"] is not None
    _, bad_sign, _ = c.request("GET", "/v5/account/wallet-balance", params, signed=True, secret="nope")
    assert bad_sign["retCode"] == 10004 and bad_sign["retMsg"].startswith("error sign!")
    _, bad_key, _ = c.request("GET", "/v5/account/wallet-balance", params, signed=True, api_key="unknown")
    assert bad_key["retCode"] == 10003
    _, stale, _ = c.request(
        "GET", "/v5/account/wallet-balance", params, signed=True, timestamp=int(time.time() * 1000) - 60_000
    )
    assert stale["retCode"] == 10002 and "server_timestamp[" in stale["retMsg"]
    status, unsigned, _ = c.request("GET", "/v5/account/wallet-balance", params)
    assert (status, unsigned["retCode"]) == (401, 10003)


def test_orders_on_both_categories_share_one_account(frozen_sim: Simulator) -> None:
    c = client(frozen_sim)
    bid, ask = frozen_sim.best("bybit", "linear", "BTCUSDT")
    _, placed, _ = c.request(
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.010",
            "price": str(bid - 10),
            "orderLinkId": "tw-by-1",
        },
        signed=True,
    )
    assert placed["retCode"] == 0, placed
    order_id = placed["result"]["orderId"]
    assert len(order_id) == 36 and placed["result"]["orderLinkId"] == "tw-by-1"
    _, realtime, _ = c.request(
        "GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT"}, signed=True
    )
    (listed,) = realtime["result"]["list"]
    assert (listed["orderId"], listed["orderStatus"], listed["avgPrice"]) == (order_id, "New", "")
    _, dup, _ = c.request(
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.010",
            "price": str(bid - 10),
            "orderLinkId": "tw-by-1",
        },
        signed=True,
    )
    assert dup["retCode"] == 110072
    _, canceled, _ = c.request(
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "tw-by-1"},
        signed=True,
    )
    assert canceled["result"]["orderId"] == order_id
    _, again, _ = c.request(
        "POST",
        "/v5/order/cancel",
        {"category": "linear", "symbol": "BTCUSDT", "orderId": order_id},
        signed=True,
    )
    assert again["retCode"] == 110001
    # A spot market buy is in the quote coin by default.
    _, bought, _ = c.request(
        "POST",
        "/v5/order/create",
        {"category": "spot", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market", "qty": "100"},
        signed=True,
    )
    assert bought["retCode"] == 0 and bought["result"]["orderId"].isdigit()
    _, history, _ = c.request(
        "GET", "/v5/order/realtime", {"category": "spot", "orderId": bought["result"]["orderId"]}, signed=True
    )
    filled = history["result"]["list"][0]
    spent = Decimal(filled["cumExecValue"])
    # Whole lots only: at most 100 USDT, and less than one lot (0.00001 BTC) short of it.
    assert filled["orderStatus"] == "Filled"
    assert Decimal("100") - Decimal("0.00001") * Decimal(filled["avgPrice"]) < spent <= Decimal("100")
    _, wallet, _ = c.request("GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True)
    coins = {coin["coin"]: coin for coin in wallet["result"]["list"][0]["coin"]}
    # One unified wallet: spot's 100,000 USDT and linear's 100,000 USDT, minus what was spent.
    assert Decimal(coins["USDT"]["walletBalance"]) == Decimal("200000") - spent
    assert Decimal(coins["BTC"]["walletBalance"]) > Decimal("2")
    # Post-only that would take is accepted, then cancelled (Bybit's way).
    _, post, _ = c.request(
        "POST",
        "/v5/order/create",
        {
            "category": "linear",
            "symbol": "BTCUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.010",
            "price": str(ask),
            "timeInForce": "PostOnly",
        },
        signed=True,
    )
    _, state, _ = c.request(
        "GET",
        "/v5/order/realtime",
        {"category": "linear", "symbol": "BTCUSDT", "orderId": post["result"]["orderId"]},
        signed=True,
    )
    assert state["result"]["list"][0]["orderStatus"] == "Cancelled"


def test_linear_position_after_a_fill(frozen_sim: Simulator) -> None:
    c = client(frozen_sim)
    _, placed, _ = c.request(
        "POST",
        "/v5/order/create",
        {"category": "linear", "symbol": "ETHUSDT", "side": "Sell", "orderType": "Market", "qty": "0.500"},
        signed=True,
    )
    assert placed["retCode"] == 0
    _, positions, _ = c.request(
        "GET", "/v5/position/list", {"category": "linear", "symbol": "ETHUSDT"}, signed=True
    )
    (position,) = positions["result"]["list"]
    assert (position["side"], position["size"]) == ("Sell", "0.5")
    _, executions, _ = c.request(
        "GET", "/v5/execution/list", {"category": "linear", "symbol": "ETHUSDT"}, signed=True
    )
    assert sum(Decimal(e["execQty"]) for e in executions["result"]["list"]) == Decimal("0.5")


def test_uid_rate_limit_and_ip_ban(frozen_sim: Simulator) -> None:
    c = client(frozen_sim)
    venue, market = frozen_sim.native_venue("bybit"), frozen_sim.native_market("linear")
    frozen_sim.native.force_rate_limit(venue, market, 1)
    _, limited, headers = c.request(
        "GET", "/v5/position/list", {"category": "linear", "symbol": "BTCUSDT"}, signed=True
    )
    assert limited["retCode"] == 10006 and headers["X-Bapi-Limit-Status"] == "0"
    frozen_sim.native.force_ban(venue, market, 60_000)
    status, _, _ = c.request("GET", "/v5/market/time")
    assert status == 403
    frozen_sim.native.lift_ban(venue, market)
    assert c.request("GET", "/v5/market/time")[0] == 200
    assert frozen_sim.native.violations(venue, market) == (0, 0, 1)


@pytest.mark.asyncio
async def test_orderbook_snapshot_then_deltas_with_consecutive_u(sim: Simulator) -> None:
    async with websockets.connect(sim.endpoints("bybit", "linear").ws_public) as ws:
        await ws.send(json.dumps({"req_id": "s1", "op": "subscribe", "args": ["orderbook.50.BTCUSDT"]}))
        ack = await recv_json(ws)
        assert ack == {
            "success": True,
            "ret_msg": "",
            "conn_id": ack["conn_id"],
            "req_id": "s1",
            "op": "subscribe",
        }
        snapshot = await next_topic(ws, "orderbook.50.BTCUSDT")
        assert snapshot["type"] == "snapshot"
        bids = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["b"]}
        asks = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["a"]}
        u, seq = snapshot["data"]["u"], snapshot["data"]["seq"]
        for _ in range(20):
            delta = await next_topic(ws, "orderbook.50.BTCUSDT")
            assert delta["type"] == "delta"
            assert delta["data"]["u"] == u + 1, "u increases by one per message"
            assert delta["data"]["seq"] >= seq
            u, seq = delta["data"]["u"], delta["data"]["seq"]
            for side, book in (("b", bids), ("a", asks)):
                for p, q in delta["data"][side]:
                    if Decimal(q) == 0:
                        book.pop(Decimal(p))
                    else:
                        book[Decimal(p)] = Decimal(q)
            assert len(bids) <= 50 and len(asks) <= 50
            assert max(bids) < min(asks)
        await ws.send(json.dumps({"req_id": "p", "op": "ping"}))
        pong = await first(ws, lambda m: m.get("op") == "ping", "pong")
        assert pong["ret_msg"] == "pong" and pong["req_id"] == "p"


@pytest.mark.asyncio
async def test_spot_trades_tickers_and_the_ten_args_limit(sim: Simulator) -> None:
    async with websockets.connect(sim.endpoints("bybit", "spot").ws_public) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [f"tickers.S{i}" for i in range(11)]}))
        refused = await recv_json(ws)
        assert refused["success"] is False
        await ws.send(
            json.dumps({"req_id": "t", "op": "subscribe", "args": ["publicTrade.BTCUSDT", "tickers.BTCUSDT"]})
        )
        assert (await recv_json(ws))["ret_msg"] == "subscribe"
        trade = await next_topic(ws, "publicTrade.BTCUSDT")
        item = trade["data"][0]
        assert item["S"] in ("Buy", "Sell") and item["i"].isdigit() and "L" not in item
        ticker = await next_topic(ws, "tickers.BTCUSDT")
        assert (ticker["type"] == "snapshot" and "bid1Price" not in ticker["data"]) or True
        assert set(ticker) >= {"topic", "type", "data", "cs", "ts"}


@pytest.mark.asyncio
async def test_restart_sends_a_u_1_snapshot_and_skips_create_gaps(sim: Simulator) -> None:
    venue, market = sim.native_venue("bybit"), sim.native_market("linear")
    url = sim.endpoints("bybit", "linear").ws_public
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.200.ETHUSDT"]}))
        first = await next_topic(ws, "orderbook.200")
        # Only this topic's deltas are affected.
        sim.native.corrupt_depth(venue, market, skip=1, symbol="200.ETHUSDT")
        u = first["data"]["u"]
        for _ in range(200):
            delta = await next_topic(ws, "orderbook.200")
            if delta["data"]["u"] != u + 1:
                break
            u = delta["data"]["u"]
        assert delta["data"]["u"] > u + 1, "a skipped delta leaves a gap in u"
        # A venue restart: the open connection gets a snapshot with u=1, and deltas go on from there.
        sim.native.restart(venue)
        for _ in range(200):
            message = await next_topic(ws, "orderbook.200")
            if message["data"]["u"] == 1:
                break
        assert (message["type"], message["data"]["u"]) == ("snapshot", 1)
        following = await next_topic(ws, "orderbook.200")
        assert (following["type"], following["data"]["u"]) == ("delta", 2)


@pytest.mark.asyncio
async def test_private_stream_auth_and_order_events(frozen_sim: Simulator) -> None:
    credentials = frozen_sim.account("bybit")
    c = client(frozen_sim)
    private_url = frozen_sim.endpoints("bybit", "linear").ws_private
    assert private_url is not None
    async with websockets.connect(private_url) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": ["order"]}))
        assert (await recv_json(ws))["success"] is False, "subscribing needs auth first"
        expires = int(time.time() * 1000) + 5_000
        bad = hmac.new(b"wrong", f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        await ws.send(json.dumps({"op": "auth", "args": [credentials.api_key, expires, bad]}))
        assert (await recv_json(ws))["success"] is False
        good = hmac.new(
            credentials.api_secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256
        ).hexdigest()
        await ws.send(json.dumps({"req_id": "a", "op": "auth", "args": [credentials.api_key, expires, good]}))
        auth = await recv_json(ws)
        assert auth["success"] is True and auth["op"] == "auth"
        await ws.send(json.dumps({"op": "subscribe", "args": ["order", "execution", "wallet", "position"]}))
        assert (await recv_json(ws))["success"] is True
        _, placed, _ = c.request(
            "POST",
            "/v5/order/create",
            {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Market",
                "qty": "0.002",
                "orderLinkId": "ws-1",
            },
            signed=True,
        )
        seen: dict[str, list[Any]] = {}
        for _ in range(100):
            message = await recv_json(ws)
            seen.setdefault(message["topic"], []).extend(message["data"])
            if {"order", "execution", "wallet", "position"} <= set(seen):
                break
        statuses = [o["orderStatus"] for o in seen["order"] if o["orderLinkId"] == "ws-1"]
        assert statuses[0] == "New" and "Filled" in statuses
        assert seen["execution"][0]["orderId"] == placed["result"]["orderId"]
        assert seen["position"][-1]["size"] == "0.002"
        await ws.send(json.dumps({"req_id": "hb", "op": "ping"}))
        pong = await first(ws, lambda m: m.get("op") == "pong", "pong")
        assert pong["req_id"] == "hb"


@pytest.fixture(scope="module")
def legacy_sim() -> Iterator[Simulator]:
    # Frozen, so the REST snapshot, the topic snapshot and the ground truth are one book.
    with Simulator(seed=23, steps_per_second=0, legacy_levels=4) as running:
        yield running


def rules(c: BybitRest, category: str, symbol: str) -> tuple[Decimal, Decimal]:
    _, info, _ = c.request("GET", "/v5/market/instruments-info", {"category": category, "symbol": symbol})
    (item,) = info["result"]["list"]
    lot = item["lotSizeFilter"]
    return Decimal(item["priceFilter"]["tickSize"]), Decimal(
        lot["basePrecision"] if category == "spot" else lot["qtyStep"]
    )


@pytest.mark.asyncio
@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_legacy_levels_are_in_rest_and_topic_snapshots_exactly(
    legacy_sim: Simulator, category: str
) -> None:
    c = client(legacy_sim)
    tick, step = rules(c, category, "BTCUSDT")
    _, book, _ = c.request(
        "GET", "/v5/market/orderbook", {"category": category, "symbol": "BTCUSDT", "limit": 1000}
    )
    _, bids, asks = legacy_sim.book("bybit", category, "BTCUSDT")
    truth = {"b": [[lv.price, lv.qty] for lv in bids], "a": [[lv.price, lv.qty] for lv in asks]}
    for side in ("b", "a"):
        levels = [[Decimal(p), Decimal(q)] for p, q in book["result"][side]]
        assert levels == truth[side]
        legacy = [(p, q) for p, q in levels if p % tick]
        assert len(legacy) == 4 and all(q % step for _, q in legacy), legacy
        assert levels[-4:] == [[p, q] for p, q in legacy], "deep, beyond the market's levels"
    async with websockets.connect(legacy_sim.endpoints("bybit", category).ws_public) as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1000.BTCUSDT"]}))
        assert (await recv_json(ws))["success"] is True
        snapshot = await next_topic(ws, "orderbook.1000.BTCUSDT")
        assert snapshot["type"] == "snapshot"
        for side in ("b", "a"):
            assert [[Decimal(p), Decimal(q)] for p, q in snapshot["data"][side]] == truth[side]


def test_a_tick_and_step_change_refuses_the_old_grid_and_keeps_resting_orders(frozen_sim: Simulator) -> None:
    c = client(frozen_sim)
    bid, _ = frozen_sim.best("bybit", "linear", "BTCUSDT")
    order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit"}
    old_price = bid - Decimal("10.3")
    _, resting, _ = c.request(
        "POST", "/v5/order/create", {**order, "qty": "0.011", "price": str(old_price)}, signed=True
    )
    assert resting["retCode"] == 0, resting

    frozen_sim.set_symbol_rules("bybit", "linear", "BTCUSDT", tick="1", step=Decimal("0.01"))
    assert rules(c, "linear", "BTCUSDT") == (Decimal("1"), Decimal("0.01"))
    _, off_tick, _ = c.request(
        "POST", "/v5/order/create", {**order, "qty": "0.01", "price": str(bid - Decimal("20.5"))}, signed=True
    )
    assert (off_tick["retCode"], off_tick["retMsg"]) == (10001, "params error: price or qty invalid")
    _, off_step, _ = c.request(
        "POST", "/v5/order/create", {**order, "qty": "0.015", "price": str(bid - 20)}, signed=True
    )
    assert off_step["retCode"] == 10001
    new_price = (bid - 20).quantize(Decimal("1"))
    _, accepted, _ = c.request(
        "POST", "/v5/order/create", {**order, "qty": "0.01", "price": str(new_price)}, signed=True
    )
    assert accepted["retCode"] == 0, accepted
    _, realtime, _ = c.request(
        "GET", "/v5/order/realtime", {"category": "linear", "symbol": "BTCUSDT"}, signed=True
    )
    listed = {o["orderId"]: (Decimal(o["price"]), Decimal(o["qty"])) for o in realtime["result"]["list"]}
    assert listed == {
        resting["result"]["orderId"]: (old_price, Decimal("0.011")),
        accepted["result"]["orderId"]: (new_price, Decimal("0.01")),
    }

    # Spot publishes its step as basePrecision.
    frozen_sim.set_symbol_rules("bybit", "spot", "ETHUSDT", tick="0.1", step="0.001")
    assert rules(c, "spot", "ETHUSDT") == (Decimal("0.1"), Decimal("0.001"))
    _, spot_refused, _ = c.request(
        "POST",
        "/v5/order/create",
        {
            "category": "spot",
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.01",
            "price": "2000.05",
        },
        signed=True,
    )
    assert spot_refused["retCode"] == 170134


@pytest.mark.asyncio
@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_depths_the_category_does_not_offer_have_no_handler(sim: Simulator, category: str) -> None:
    async with websockets.connect(sim.endpoints("bybit", category).ws_public) as ws:
        for depth in (500, 25, 10):
            topic = f"orderbook.{depth}.BTCUSDT"
            await ws.send(
                json.dumps({"req_id": f"d{depth}", "op": "subscribe", "args": ["orderbook.1.BTCUSDT", topic]})
            )
            refused = await recv_json(ws)
            assert refused["success"] is False and refused["op"] == "subscribe", refused
            assert refused["ret_msg"] == f"error:handler not found,topic:{topic}"
        await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1000.NOPE"]}))
        assert (await recv_json(ws))["ret_msg"] == "Invalid symbol :[orderbook.1000.NOPE]"
        await ws.send(
            json.dumps({"op": "subscribe", "args": [f"orderbook.{d}.BTCUSDT" for d in (1, 50, 200, 1000)]})
        )
        assert (await recv_json(ws))["success"] is True

"""The simulator speaks Binance spot and USD-M: REST shapes, signing, limits, streams, faults.

These tests use an independent minimal client (tests/binance_client.py) and the `websockets`
library over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import websockets
from tradewire.errors import InvalidArgument
from tradewire.testing import Simulator

from tests.binance_client import BinanceRest
from tests.wire import first, read_until_closed, recv_json


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, steps_per_second=200) as running:
        client = spot(running)
        deadline = time.monotonic() + 10
        while not client.request("GET", "/api/v3/trades", {"symbol": "BTCUSDT"}).body:
            assert time.monotonic() < deadline, "the synthetic market produced no trade"
            time.sleep(0.05)
        yield running


@pytest.fixture
def frozen_sim() -> Iterator[Simulator]:
    # No synthetic flow: the book only changes through our orders.
    with Simulator(seed=5, steps_per_second=0) as running:
        yield running


def spot(sim: Simulator) -> BinanceRest:
    return BinanceRest(sim.endpoints("binance", "spot").rest, sim.account("binance"))


def usdm(sim: Simulator) -> BinanceRest:
    return BinanceRest(sim.endpoints("binance", "usdm").rest, sim.account("binance"))


def test_binds_loopback_only(sim: Simulator) -> None:
    for market in ("spot", "usdm"):
        assert sim.endpoints("binance", market).rest.startswith("http://127.0.0.1:")
    # The account secret is never shown.
    assert sim.account("binance").api_secret not in repr(sim.account("binance"))


def test_public_rest_shapes(sim: Simulator) -> None:
    client = spot(sim)
    assert client.request("GET", "/api/v3/ping").body == {}
    assert isinstance(client.request("GET", "/api/v3/time").body["serverTime"], int)
    info = client.request("GET", "/api/v3/exchangeInfo", {"symbol": "BTCUSDT"}).body
    (btc,) = info["symbols"]
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert {r["rateLimitType"] for r in info["rateLimits"]} == {"REQUEST_WEIGHT", "ORDERS"}
    bad = client.request("GET", "/api/v3/exchangeInfo", {"symbol": "NOPE"})
    assert (bad.status, bad.body["code"]) == (400, -1121)
    trades = client.request("GET", "/api/v3/trades", {"symbol": "BTCUSDT", "limit": 5}).body
    assert set(trades[0]) >= {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker", "isBestMatch"}
    ticker = client.request("GET", "/api/v3/ticker/24hr", {"symbol": "ETHUSDT"}).body
    assert Decimal(ticker["bidPrice"]) < Decimal(ticker["askPrice"])
    futures = usdm(sim).request("GET", "/fapi/v1/exchangeInfo").body
    assert futures["futuresType"] == "U_MARGINED"
    btc_perp = next(s for s in futures["symbols"] if s["symbol"] == "BTCUSDT")
    assert {"filterType": "MIN_NOTIONAL", "notional": "5"} in btc_perp["filters"]
    depth = usdm(sim).request("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5}).body
    assert set(depth) == {"lastUpdateId", "E", "T", "bids", "asks"}


def test_depth_snapshot_is_the_true_book(frozen_sim: Simulator) -> None:
    body = spot(frozen_sim).request("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000}).body
    update_id, bids, asks = frozen_sim.book("binance", "spot", "BTCUSDT")
    assert body["lastUpdateId"] == update_id
    assert [[Decimal(p), Decimal(q)] for p, q in body["bids"]] == [[lv.price, lv.qty] for lv in bids]
    assert [[Decimal(p), Decimal(q)] for p, q in body["asks"]] == [[lv.price, lv.qty] for lv in asks]


def test_signed_order_lifecycle_and_balances(frozen_sim: Simulator) -> None:
    client = spot(frozen_sim)
    before = {b["asset"]: b for b in client.request("GET", "/api/v3/account", signed=True).body["balances"]}
    bid, ask = frozen_sim.best("binance", "spot", "BTCUSDT")
    placed = client.request(
        "POST",
        "/api/v3/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.01000",
            "price": str(bid - Decimal("1")),
            "newClientOrderId": "tw-test-1",
        },
        signed=True,
    )
    assert placed.status == 200, placed.body
    assert placed.body["status"] == "NEW" and placed.body["clientOrderId"] == "tw-test-1"
    assert placed.body["fills"] == []
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    order_id = placed.body["orderId"]
    queried = client.request(
        "GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "tw-test-1"}, signed=True
    )
    assert queried.body["orderId"] == order_id and queried.body["isWorking"] is True
    opened = client.request("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True).body
    assert [o["orderId"] for o in opened] == [order_id]
    locked = {b["asset"]: b for b in client.request("GET", "/api/v3/account", signed=True).body["balances"]}
    assert Decimal(locked["USDT"]["locked"]) == Decimal("0.01") * (bid - 1)
    canceled = client.request(
        "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order_id}, signed=True
    )
    assert canceled.body["status"] == "CANCELED"
    again = client.request("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order_id}, signed=True)
    assert (again.status, again.body) == (400, {"code": -2011, "msg": "Unknown order sent."})
    after = {b["asset"]: b for b in client.request("GET", "/api/v3/account", signed=True).body["balances"]}
    assert after["USDT"] == before["USDT"]

    # A market buy crosses the book: FULL response with fills, balances move exactly.
    bought = client.request(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.00100"},
        signed=True,
    ).body
    assert bought["status"] == "FILLED" and bought["type"] == "MARKET"
    spent = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in bought["fills"])
    fee = sum(Decimal(f["commission"]) for f in bought["fills"])
    assert Decimal(bought["fills"][0]["price"]) == ask
    final = {b["asset"]: b for b in client.request("GET", "/api/v3/account", signed=True).body["balances"]}
    assert Decimal(final["USDT"]["free"]) == Decimal(before["USDT"]["free"]) - spent
    assert Decimal(final["BTC"]["free"]) == Decimal(before["BTC"]["free"]) + Decimal("0.001") - fee
    trades = client.request("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True).body
    assert [t["orderId"] for t in trades] == [bought["orderId"]] * len(bought["fills"])


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"secret": "wrong"}, 400, -1022),
        ({"api_key": ""}, 401, -2014),
        ({"api_key": "unknownkey"}, 401, -2015),
        ({"timestamp_shift": 10_000}, 400, -1021),
        ({"timestamp_shift": -10_000}, 400, -1021),
        ({"recvWindow": 70_000}, 400, -1131),
    ],
)
def test_signature_and_timing_errors(sim: Simulator, change: dict[str, Any], status: int, code: int) -> None:
    client = spot(sim)
    params: dict[str, Any] = {}
    if "timestamp_shift" in change:
        client.clock_offset_ms = change.pop("timestamp_shift")
    if "recvWindow" in change:
        params["recvWindow"] = change.pop("recvWindow")
    reply = client.request("GET", "/api/v3/account", params, signed=True, **change)
    assert (reply.status, reply.body["code"]) == (status, code)


def test_venue_clock_skew_is_seen_by_signed_requests(frozen_sim: Simulator) -> None:
    client = spot(frozen_sim)
    frozen_sim.native.set_clock(frozen_sim.native_venue("binance"), skew_ms=-5_000)
    assert client.request("GET", "/api/v3/account", signed=True).body["code"] == -1021
    server = client.request("GET", "/api/v3/time").body["serverTime"]
    client.clock_offset_ms = server - int(time.time() * 1000)
    assert client.request("GET", "/api/v3/account", signed=True).status == 200
    assert -5_100 < frozen_sim.native.clock_offset_ms(frozen_sim.native_venue("binance")) < -4_900


def test_order_rejections_use_venue_codes(frozen_sim: Simulator) -> None:
    client = spot(frozen_sim)
    base = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    cases = [
        ({"quantity": "0.01", "price": "50000.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.000001", "price": "50000"}, -1013, "Filter failure: LOT_SIZE"),
        ({"quantity": "0.00001", "price": "100"}, -1013, "Filter failure: NOTIONAL"),
        (
            {"quantity": "100", "price": "50000"},
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        ({"quantity": "1e-2", "price": "50000"}, -1100, None),
        (
            {"price": "50000"},
            -1102,
            "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.",
        ),
    ]
    for extra, code, msg in cases:
        reply = client.request("POST", "/api/v3/order", {**base, **extra}, signed=True)
        assert reply.status == 400 and reply.body["code"] == code, (extra, reply.body)
        if msg:
            assert reply.body["msg"] == msg
    _, ask = frozen_sim.best("binance", "spot", "BTCUSDT")
    maker = client.request(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.001", "price": str(ask)},
        signed=True,
    )
    assert maker.body == {"code": -2010, "msg": "Order would immediately match and take."}
    retired = client.request("POST", "/api/v3/userDataStream")
    assert retired.status == 410


def test_usdm_orders_positions_and_listen_key(frozen_sim: Simulator) -> None:
    client = usdm(frozen_sim)
    bid, ask = frozen_sim.best("binance", "usdm", "BTCUSDT")
    placed = client.request(
        "POST",
        "/fapi/v1/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "MARKET",
            "quantity": "0.010",
            "newOrderRespType": "RESULT",
        },
        signed=True,
    ).body
    assert placed["status"] == "FILLED" and Decimal(placed["avgPrice"]) >= ask
    risk = client.request("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}, signed=True).body
    assert Decimal(risk[0]["positionAmt"]) == Decimal("0.010")
    post_only = client.request(
        "POST",
        "/fapi/v1/order",
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "GTX",
            "quantity": "0.010",
            "price": str(bid),
        },
        signed=True,
    ).body
    assert post_only["code"] == -5022
    key = client.request("POST", "/fapi/v1/listenKey").body["listenKey"]
    assert len(key) == 64
    assert client.request("PUT", "/fapi/v1/listenKey").body == {"listenKey": key}
    config = client.request("GET", "/fapi/v1/symbolConfig", {"symbol": "BTCUSDT"}, signed=True).body
    assert config[0]["leverage"] == 20


def test_rate_limits_429_then_ban_and_counts() -> None:
    # time_scale=60: the 1-minute weight window lasts one second.
    with Simulator(steps_per_second=0, time_scale=60) as sim:
        client = spot(sim)
        window = client.request("GET", "/api/v3/exchangeInfo").body["rateLimits"][0]
        assert (window["interval"], window["intervalNum"], window["limit"]) == ("SECOND", 1, 6000)
        sim.native.force_rate_limit(sim.native_venue("binance"), sim.native_market("spot"), 1)
        forced = client.request("GET", "/api/v3/time")
        assert forced.status == 429 and forced.body["code"] == -1003 and "Retry-After" in forced.headers
        assert sim.native.violations(sim.native_venue("binance"), sim.native_market("spot")) == (0, 0, 0)
        # Keep hammering (weight 250 each) until banned; windows are fixed, so count until the ban.
        statuses: list[int] = []
        while 418 not in statuses and len(statuses) < 500:
            statuses.append(
                client.request("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}).status
            )
        assert statuses[-1] == 418
        assert 429 in statuses[: statuses.index(418)], "429s come before the ban"
        banned = client.request("GET", "/api/v3/time")
        assert banned.status == 418 and "IP banned until" in banned.body["msg"]
        rate_limited, bans, while_banned = sim.native.violations(
            sim.native_venue("binance"), sim.native_market("spot")
        )
        assert rate_limited >= 3 and bans == 1 and while_banned >= 1
        assert int(banned.headers["Retry-After"]) >= 1


def test_rest_faults_5xx_and_hang(sim: Simulator) -> None:
    client = spot(sim)
    sim.native.fail_rest(sim.native_venue("binance"), sim.native_market("spot"), status_5xx=2)
    assert [client.request("GET", "/api/v3/time").status for _ in range(3)] == [503, 503, 200]
    sim.native.fail_rest(sim.native_venue("binance"), sim.native_market("spot"), hang=1)
    with pytest.raises((TimeoutError, socket.timeout, OSError)):
        client.request("GET", "/api/v3/time", timeout=0.3)
    assert client.request("GET", "/api/v3/time").status == 200


@pytest.mark.asyncio
async def test_raw_and_combined_streams(sim: Simulator) -> None:
    base = sim.endpoints("binance", "spot").ws_public
    async with websockets.connect(f"{base}/ws/btcusdt@trade") as ws:
        trade = await recv_json(ws)
        assert trade["e"] == "trade" and trade["s"] == "BTCUSDT"
        assert set(trade) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"}
    async with websockets.connect(f"{base}/stream?streams=btcusdt@depth@100ms/ethusdt@bookTicker") as ws:
        seen: dict[str, Any] = {}
        for _ in range(1000):
            frame = await recv_json(ws)
            seen[frame["stream"]] = frame["data"]
            if len(seen) == 2:
                break
        assert seen["btcusdt@depth@100ms"]["e"] == "depthUpdate"
        assert set(seen["ethusdt@bookTicker"]) == {"u", "s", "b", "B", "a", "A"}


@pytest.mark.asyncio
async def test_subscribe_list_unsubscribe_and_bad_requests(sim: Simulator) -> None:
    async with websockets.connect(f"{sim.endpoints('binance', 'spot').ws_public}/ws") as ws:
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 1}))
        assert await first(ws, lambda m: "id" in m, "SUBSCRIBE reply") == {"result": None, "id": 1}
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": "x2"}))
        message = await first(ws, lambda m: m.get("id") == "x2", "LIST_SUBSCRIPTIONS reply")
        assert message == {"result": ["btcusdt@aggTrade"], "id": "x2"}
        await ws.send("not json")
        message = await first(ws, lambda m: "code" in m, "error reply")
        assert message["code"] == 3
        await ws.send(json.dumps({"method": "SUBSCRIBE", "params": ["nosuch@trade"], "id": 4}))
        message = await first(ws, lambda m: m.get("id") == 4, "reply to a bad SUBSCRIBE")
        assert message["code"] == 2


async def follow_book(
    sim: Simulator, market: str, symbol: str, stream: str, events: int
) -> tuple[int, dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """Binance's documented local-book procedure (PROTOCOLS.md 4.1 / 4.2), written plainly.
    Follows `events` diffs, pauses the market, then catches up to the true update id."""
    futures = market == "usdm"
    rest = usdm(sim) if futures else spot(sim)
    venue, m = sim.native_venue("binance"), sim.native_market(market)
    async with websockets.connect(f"{sim.endpoints('binance', market).ws_public}/ws/{stream}") as ws:
        buffered = [await recv_json(ws) for _ in range(3)]
        path = "/fapi/v1/depth" if futures else "/api/v3/depth"
        snapshot = rest.request("GET", path, {"symbol": symbol, "limit": 1000}).body
        bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        last = snapshot["lastUpdateId"]
        applied = 0
        prev_u: int | None = None
        target: int | None = None
        while target is None or prev_u != target:
            event = buffered.pop(0) if buffered else await recv_json(ws)
            if (futures and event["u"] < last) or (not futures and event["u"] <= last):
                continue
            if prev_u is None:
                assert event["U"] <= last + (0 if futures else 1) <= event["u"]
            elif futures:
                assert event["pu"] == prev_u, "pu chains to the previous u"
            else:
                assert event["U"] == prev_u + 1, "no gap"
            for side, book in (("b", bids), ("a", asks)):
                for p, q in event[side]:
                    if Decimal(q) == 0:
                        book.pop(Decimal(p), None)
                    else:
                        book[Decimal(p)] = Decimal(q)
            prev_u = event["u"]
            applied += 1
            if applied == events:
                sim.native.pause(venue, m, True)
                target = sim.book("binance", market, symbol)[0]
        return prev_u, bids, asks


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_a_book_built_from_the_streams_matches_the_truth(market: str) -> None:
    with Simulator(seed=11, steps_per_second=400) as sim:
        last_u, bids, asks = await follow_book(sim, market, "BTCUSDT", "btcusdt@depth@100ms", events=15)
        update_id, true_bids, true_asks = sim.book("binance", market, "BTCUSDT")
        assert last_u == update_id
        assert bids == {lv.price: lv.qty for lv in true_bids}
        assert asks == {lv.price: lv.qty for lv in true_asks}
        assert max(bids) < min(asks), "not crossed"


@pytest.mark.asyncio
async def test_usdm_routes_split_book_and_market_data(sim: Simulator) -> None:
    e = sim.endpoints("binance", "usdm")
    assert e.ws_market is not None
    async with websockets.connect(f"{e.ws_public}/ws/btcusdt@depth@100ms") as ws:
        event = await recv_json(ws)
        assert event["e"] == "depthUpdate" and "pu" in event and "T" in event
    async with websockets.connect(f"{e.ws_market}/ws/btcusdt@aggTrade") as ws:
        assert (await recv_json(ws))["e"] == "aggTrade"
    # A book stream on the /market route connects and stays silent, as on the venue.
    async with websockets.connect(f"{e.ws_market}/ws/btcusdt@depth@100ms") as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)


@pytest.mark.asyncio
async def test_depth_faults_create_the_gaps_clients_must_detect(sim: Simulator) -> None:
    base = sim.endpoints("binance", "spot").ws_public
    venue, market = sim.native_venue("binance"), sim.native_market("spot")
    async with websockets.connect(f"{base}/ws/btcusdt@depth@100ms") as ws:
        previous = await recv_json(ws)
        sim.native.corrupt_depth(venue, market, skip=1, symbol="BTCUSDT")
        # Diffs already on the way arrive first; the stream's next diff is the one dropped.
        for _ in range(50):
            event = await recv_json(ws)
            if event["U"] != previous["u"] + 1:
                break
            previous = event
        assert event["U"] > previous["u"] + 1, "a skipped diff leaves a gap"
        sim.native.corrupt_depth(venue, market, duplicate=1, symbol="BTCUSDT")
        previous = await recv_json(ws)
        for _ in range(50):
            event = await recv_json(ws)
            if event == previous:
                break
            previous = event
        assert event == previous, "a duplicated diff arrives twice"
        sim.native.corrupt_depth(venue, market, reorder=1, symbol="BTCUSDT")
        previous = await recv_json(ws)
        for _ in range(50):
            event = await recv_json(ws)
            if event["u"] < previous["u"]:
                break
            previous = event
        assert event["u"] < previous["u"], "a held-back diff arrives after the next one"


@pytest.mark.asyncio
async def test_drop_and_lifetime_close_connections() -> None:
    with Simulator(connection_lifetime_ms=600) as sim:
        base = sim.endpoints("binance", "spot").ws_public
        async with websockets.connect(f"{base}/ws/btcusdt@depth@100ms") as ws:
            await recv_json(ws)
            sim.native.drop_connections(sim.native_venue("binance"), sim.native_market("spot"))
            with pytest.raises(websockets.ConnectionClosed):
                await read_until_closed(ws)
        async with websockets.connect(f"{base}/ws/btcusdt@depth@100ms") as ws:
            started = asyncio.get_running_loop().time()
            with pytest.raises(websockets.ConnectionClosed):
                await read_until_closed(ws)
            assert 0.4 < asyncio.get_running_loop().time() - started < 5


@pytest.mark.asyncio
async def test_spot_user_data_over_the_ws_api(frozen_sim: Simulator) -> None:
    credentials = frozen_sim.account("binance")
    endpoints = frozen_sim.endpoints("binance", "spot")
    assert endpoints.ws_api is not None
    async with websockets.connect(endpoints.ws_api) as ws:
        params: dict[str, Any] = {"apiKey": credentials.api_key, "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["signature"] = hmac.new(
            credentials.api_secret.encode(), payload.encode(), hashlib.sha256
        ).hexdigest()
        await ws.send(
            json.dumps({"id": "sub-1", "method": "userDataStream.subscribe.signature", "params": params})
        )
        reply = await recv_json(ws)
        assert (reply["id"], reply["status"], reply["result"]) == ("sub-1", 200, {"subscriptionId": 0})
        assert reply["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT"
        bought = (
            spot(frozen_sim)
            .request(
                "POST",
                "/api/v3/order",
                {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.0100"},
                signed=True,
            )
            .body
        )
        report = await first(ws, lambda m: m.get("event", {}).get("x") == "TRADE", "TRADE execution report")
        assert report["subscriptionId"] == 0
        event = report["event"]
        assert (event["e"], event["i"], event["s"]) == ("executionReport", bought["orderId"], "ETHUSDT")
        assert Decimal(event["l"]) == Decimal(bought["fills"][0]["qty"])
        position = await first(
            ws, lambda m: m.get("event", {}).get("e") == "outboundAccountPosition", "balances"
        )
        assert {b["a"] for b in position["event"]["B"]} == {"ETH", "USDT"}
        await ws.send(json.dumps({"id": 2, "method": "userDataStream.unsubscribe", "params": {}}))
        reply = await first(ws, lambda m: m.get("id") == 2, "unsubscribe reply")
        assert reply["status"] == 200
        terminated = await first(ws, lambda m: "event" in m, "eventStreamTerminated")
        assert terminated["event"]["e"] == "eventStreamTerminated"


@pytest.mark.asyncio
async def test_usdm_listen_key_stream_and_expiry(frozen_sim: Simulator) -> None:
    client = usdm(frozen_sim)
    key = client.request("POST", "/fapi/v1/listenKey").body["listenKey"]
    private = frozen_sim.endpoints("binance", "usdm").ws_private
    async with websockets.connect(f"{private}/ws/{key}") as ws:
        placed = client.request(
            "POST",
            "/fapi/v1/order",
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"},
            signed=True,
        ).body
        update = await first(
            ws, lambda m: m.get("e") == "ORDER_TRADE_UPDATE" and m["o"]["X"] == "FILLED", "fill"
        )
        assert update["o"]["i"] == placed["orderId"]
        account = await first(ws, lambda m: m.get("e") == "ACCOUNT_UPDATE", "ACCOUNT_UPDATE")
        assert account["a"]["P"][0]["pa"] == "0.002"
        frozen_sim.native.expire_listen_keys()
        expired = await first(ws, lambda m: m.get("e") == "listenKeyExpired", "listenKeyExpired")
        assert expired["listenKey"] == key
    # An expired key is refused, and keepalive no longer knows it.
    with pytest.raises(websockets.ConnectionClosed):
        async with websockets.connect(f"{private}/ws/{key}") as ws:
            await recv_json(ws)
    assert client.request("PUT", "/fapi/v1/listenKey").body["code"] == -1125


def test_ground_truth_ledger_matches_the_wire(frozen_sim: Simulator) -> None:
    import tradewire as tw

    client = spot(frozen_sim)
    bid, _ = frozen_sim.best("binance", "spot", "BTCUSDT")
    placed = client.request(
        "POST",
        "/api/v3/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.00500",
            "price": str(bid - 5),
            "newClientOrderId": "truth-1",
        },
        signed=True,
    ).body
    (order,) = frozen_sim.orders("binance", "spot")
    assert (order.order_id, order.client_order_id, order.status) == (
        str(placed["orderId"]),
        "truth-1",
        tw.OrderStatus.NEW,
    )
    assert (order.price, order.qty, order.filled_qty) == (bid - 5, Decimal("0.005"), Decimal(0))
    wire = {b["asset"]: b for b in client.request("GET", "/api/v3/account", signed=True).body["balances"]}
    truth = frozen_sim.balances("binance", "spot")
    assert {a: (Decimal(b["free"]), Decimal(b["locked"])) for a, b in wire.items()} == {
        a: (b.free, b.locked) for a, b in truth.items()
    }
    usdm(frozen_sim).request(
        "POST",
        "/fapi/v1/order",
        {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.100"},
        signed=True,
    )
    position = frozen_sim.positions("binance", "usdm")["ETHUSDT"]
    assert (position.side, position.size) == (tw.PositionSide.SHORT, Decimal("0.1"))


def ed25519_sign(pem: str, payload: str) -> str:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return base64.b64encode(key.sign(payload.encode())).decode()


def test_ed25519_signed_rest(frozen_sim: Simulator) -> None:
    import urllib.parse

    keys = frozen_sim.account("binance", "ed25519")
    assert keys.api_secret.startswith("-----BEGIN PRIVATE KEY-----")
    rest = frozen_sim.endpoints("binance", "spot").rest
    query = urllib.parse.urlencode({"timestamp": int(time.time() * 1000)})
    signature = urllib.parse.quote(ed25519_sign(keys.api_secret, query), safe="")
    client = BinanceRest(rest, keys)
    ok = client.request("GET", f"/api/v3/account?{query}&signature={signature}")
    assert ok.status == 200
    assert "balances" in ok.body
    forged = urllib.parse.quote(ed25519_sign(keys.api_secret, query + "x"), safe="")
    bad = client.request("GET", f"/api/v3/account?{query}&signature={forged}")
    assert (bad.status, bad.body["code"]) == (400, -1022)


@pytest.mark.asyncio
async def test_ed25519_session_logon_and_user_data(frozen_sim: Simulator) -> None:
    keys = frozen_sim.account("binance", "ed25519")
    hmac_keys = frozen_sim.account("binance")
    ws_api = frozen_sim.endpoints("binance", "spot").ws_api
    assert ws_api is not None
    async with websockets.connect(ws_api) as ws:
        await ws.send(json.dumps({"id": 1, "method": "userDataStream.subscribe", "params": {}}))
        assert (await recv_json(ws))["error"]["code"] == -2015, "not logged on yet"
        params: dict[str, Any] = {"apiKey": keys.api_key, "timestamp": int(time.time() * 1000)}
        payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        params["signature"] = ed25519_sign(keys.api_secret, payload)
        await ws.send(json.dumps({"id": 2, "method": "session.logon", "params": params}))
        logon = await recv_json(ws)
        assert logon["status"] == 200
        assert logon["result"]["apiKey"] == keys.api_key
        await ws.send(json.dumps({"id": 3, "method": "userDataStream.subscribe", "params": {}}))
        assert (await recv_json(ws))["result"] == {"subscriptionId": 0}
        spot(frozen_sim).request(
            "POST",
            "/api/v3/order",
            {"symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": "1.000"},
            signed=True,
        )
        report = await first(
            ws, lambda m: m.get("event", {}).get("e") == "executionReport", "execution report"
        )
        assert report["event"]["s"] == "SOLUSDT"
    async with websockets.connect(ws_api) as ws:
        params = {"apiKey": hmac_keys.api_key, "timestamp": int(time.time() * 1000), "signature": "x"}
        await ws.send(json.dumps({"id": 1, "method": "session.logon", "params": params}))
        assert (await recv_json(ws))["error"]["code"] == -4056, "HMAC keys cannot log on"


@pytest.mark.asyncio
async def test_freeze_keeps_the_socket_open_but_silent(sim: Simulator) -> None:
    venue, market = sim.native_venue("binance"), sim.native_market("spot")
    async with websockets.connect(
        f"{sim.endpoints('binance', 'spot').ws_public}/ws/btcusdt@depth@100ms"
    ) as ws:
        await recv_json(ws)
        sim.native.freeze(venue, market, True)
        try:
            # Whatever was already on its way may still arrive; then silence, socket open.
            with pytest.raises(TimeoutError):
                await read_until_closed(ws, within=0.5)
        finally:
            sim.native.freeze(venue, market, False)
        resumed = await recv_json(ws)
        assert resumed["e"] == "depthUpdate"


@pytest.mark.asyncio
async def test_one_connection_is_dropped_or_frozen_alone(sim: Simulator) -> None:
    venue, market = sim.native_venue("binance"), sim.native_market("spot")
    base = sim.endpoints("binance", "spot").ws_public
    async with (
        websockets.connect(f"{base}/ws/btcusdt@depth@100ms") as first_ws,
        websockets.connect(f"{base}/ws/ethusdt@depth@100ms") as second_ws,
    ):
        await recv_json(first_ws)
        await recv_json(second_ws)
        by_stream = {c.streams: c for c in sim.connections("binance", "spot")}
        assert set(by_stream) == {("btcusdt@depth@100ms",), ("ethusdt@depth@100ms",)}
        assert all(c.kind == "public" for c in by_stream.values())
        target = by_stream[("btcusdt@depth@100ms",)].id

        sim.native.freeze(venue, market, True, target)
        try:
            with pytest.raises(TimeoutError):
                await read_until_closed(first_ws, within=0.5)
            assert (await recv_json(second_ws))["s"] == "ETHUSDT", "the other connection flows on"
        finally:
            sim.native.freeze(venue, market, False, target)
        assert (await recv_json(first_ws))["s"] == "BTCUSDT"

        sim.native.drop_connections(venue, market, target)
        with pytest.raises(websockets.ConnectionClosed):
            await read_until_closed(first_ws)
        assert (await recv_json(second_ws))["s"] == "ETHUSDT"
        assert [c.streams for c in sim.connections("binance", "spot")] == [("ethusdt@depth@100ms",)]
        with pytest.raises(ValueError, match="no open connection"):
            sim.native.drop_connections(venue, market, target)


@pytest.mark.asyncio
async def test_connection_attempts_beyond_the_window_limit_are_refused_and_counted() -> None:
    # Binance allows 300 connection attempts per 5 minutes per IP (fixed windows, so a burst that
    # straddles a boundary may get up to twice that before the first refusal).
    with Simulator(steps_per_second=0) as sim:
        base = sim.endpoints("binance", "spot").ws_public
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        admitted = 0
        status = None
        for _ in range(601):
            try:
                async with websockets.connect(f"{base}/ws"):
                    admitted += 1
            except websockets.InvalidStatus as refused:
                status = refused.response.status_code
                break
        assert status == 429
        assert 300 <= admitted <= 600
        assert sim.native.connections_refused(venue, market) == 1
        # REST is not a connection attempt.
        assert spot(sim).request("GET", "/api/v3/time").status == 200


@pytest.fixture(scope="module")
def legacy_sim() -> Iterator[Simulator]:
    # Frozen, so a REST snapshot and the ground truth describe the same book.
    with Simulator(seed=11, steps_per_second=0, legacy_levels=5) as running:
        yield running


def filters_of(client: BinanceRest, path: str, symbol: str) -> dict[str, Any]:
    info = client.request("GET", path, {"symbol": symbol}).body
    (only,) = [s for s in info["symbols"] if s["symbol"] == symbol]
    return {f["filterType"]: f for f in only["filters"]}


@pytest.mark.parametrize(
    ("market", "prefix", "symbol"), [("spot", "/api/v3", "BTCUSDT"), ("usdm", "/fapi/v1", "SOLUSDT")]
)
def test_legacy_levels_off_the_grid_are_in_the_1000_level_snapshot_exactly(
    legacy_sim: Simulator, market: str, prefix: str, symbol: str
) -> None:
    client = spot(legacy_sim) if market == "spot" else usdm(legacy_sim)
    filters = filters_of(client, f"{prefix}/exchangeInfo", symbol)
    tick, step = Decimal(filters["PRICE_FILTER"]["tickSize"]), Decimal(filters["LOT_SIZE"]["stepSize"])
    body = client.request("GET", f"{prefix}/depth", {"symbol": symbol, "limit": 1000}).body
    update_id, bids, asks = legacy_sim.book("binance", market, symbol)
    assert body["lastUpdateId"] == update_id
    for wire, truth in ((body["bids"], bids), (body["asks"], asks)):
        assert [[Decimal(p), Decimal(q)] for p, q in wire] == [[lv.price, lv.qty] for lv in truth]
        legacy = [(p, q) for p, q in wire if Decimal(p) % tick]
        # Five a side, deep, priced on a 100x finer tick and sized off the step, never rounded.
        assert len(legacy) == 5, wire
        assert all(Decimal(q) % step for _, q in legacy)
        assert all(Decimal(p) % (tick / 100) == 0 for p, _ in legacy)
        assert [p for p, _ in wire[-5:]] == [p for p, _ in legacy], "they sit beyond the market's levels"
        if market == "spot":
            assert all(len(p.split(".")[1]) == 8 for p, _ in legacy), "spot pads to 8 decimals"
        else:
            # USD-M prints the symbol's precision, or the digits a legacy price has (as CTKUSDT did).
            places = len(filters["PRICE_FILTER"]["tickSize"].split(".")[1])
            assert all(places < len(p.split(".")[1]) <= places + 2 for p, _ in legacy)


def test_a_tick_and_step_change_refuses_the_old_grid_and_keeps_resting_orders(frozen_sim: Simulator) -> None:
    client = spot(frozen_sim)
    bid, _ = frozen_sim.best("binance", "spot", "BTCUSDT")
    old_price = bid - Decimal("1.23")
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    resting = client.request(
        "POST", "/api/v3/order", {**order, "quantity": "0.00021", "price": str(old_price)}, signed=True
    )
    assert resting.status == 200, resting.body

    frozen_sim.set_symbol_rules("binance", "spot", "BTCUSDT", tick=Decimal("0.1"), step="0.0001")
    filters = filters_of(client, "/api/v3/exchangeInfo", "BTCUSDT")
    assert (filters["PRICE_FILTER"]["tickSize"], filters["LOT_SIZE"]["stepSize"]) == (
        "0.10000000",
        "0.00010000",
    )
    old_grid = client.request(
        "POST",
        "/api/v3/order",
        {**order, "quantity": "0.0010", "price": str(bid - Decimal("2.37"))},
        signed=True,
    )
    assert (old_grid.status, old_grid.body) == (400, {"code": -1013, "msg": "Filter failure: PRICE_FILTER"})
    new_price = (bid - 3).quantize(Decimal("0.1"))
    old_step = client.request(
        "POST", "/api/v3/order", {**order, "quantity": "0.00015", "price": str(new_price)}, signed=True
    )
    assert old_step.body == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
    accepted = client.request(
        "POST", "/api/v3/order", {**order, "quantity": "0.0010", "price": str(new_price)}, signed=True
    )
    assert accepted.status == 200, accepted.body

    opened = client.request("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True).body
    listed = {o["orderId"]: (Decimal(o["price"]), Decimal(o["origQty"])) for o in opened}
    assert listed == {
        resting.body["orderId"]: (old_price, Decimal("0.00021")),
        accepted.body["orderId"]: (new_price, Decimal("0.001")),
    }
    _, bids, _ = frozen_sim.book("binance", "spot", "BTCUSDT")
    assert old_price in {lv.price for lv in bids}

    # USD-M: its own error, and the old order printed exactly though finer than the new precision.
    futures = usdm(frozen_sim)
    sol_bid, _ = frozen_sim.best("binance", "usdm", "SOLUSDT")
    sol_order = {"symbol": "SOLUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    sol_old = sol_bid - Decimal("0.123")
    kept = futures.request(
        "POST", "/fapi/v1/order", {**sol_order, "quantity": "0.7", "price": str(sol_old)}, signed=True
    )
    assert kept.status == 200, kept.body
    frozen_sim.set_symbol_rules("binance", "usdm", "SOLUSDT", tick="0.01", step=1)
    sol_filters = filters_of(futures, "/fapi/v1/exchangeInfo", "SOLUSDT")
    assert (sol_filters["PRICE_FILTER"]["tickSize"], sol_filters["LOT_SIZE"]["stepSize"]) == ("0.01", "1")
    refused = futures.request(
        "POST",
        "/fapi/v1/order",
        {**sol_order, "quantity": "1", "price": str(sol_bid - Decimal("0.235"))},
        signed=True,
    )
    assert refused.body == {"code": -4014, "msg": "Price not increased by tick size."}
    shown = futures.request("GET", "/fapi/v1/openOrders", {"symbol": "SOLUSDT"}, signed=True).body
    assert [(o["price"], o["origQty"]) for o in shown] == [(f"{sol_old:.3f}", "0.7")]


def test_rule_changes_take_exact_values_only(frozen_sim: Simulator) -> None:
    with pytest.raises(TypeError, match="float"):
        frozen_sim.set_symbol_rules("binance", "spot", "BTCUSDT", tick=0.1)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="finer than the book's unit"):
        frozen_sim.set_symbol_rules("binance", "spot", "BTCUSDT", step="0.000000001")
    with pytest.raises(InvalidArgument, match="positive"):
        frozen_sim.set_symbol_rules("binance", "spot", "BTCUSDT", tick="0")
    with pytest.raises(InvalidArgument, match="unknown symbol"):
        frozen_sim.set_symbol_rules("binance", "usdm", "NOPE", tick="1")

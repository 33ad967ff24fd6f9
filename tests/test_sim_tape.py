"""Simulator tapes: a recorded synthetic market played to every subscribed connection, whose
frames lead exactly to the true book; and replay of recorded JSON-lines files, byte for byte."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import websockets
from tradewire.testing import Simulator

from tests.binance_client import BinanceRest
from tests.wire import recv_json

Side = dict[Decimal, Decimal]


def apply(side: Side, levels: list[list[str]]) -> None:
    for price, qty in levels:
        if Decimal(qty) == 0:
            side.pop(Decimal(price), None)
        else:
            side[Decimal(price)] = Decimal(qty)


def truth(sim: Simulator, venue: str, market: str, symbol: str, depth: int = 1000) -> tuple[Side, Side]:
    _, bids, asks = sim.book(venue, market, symbol, depth)
    return {b.price: b.qty for b in bids}, {a.price: a.qty for a in asks}


def top(side: Side, n: int, best_first_descending: bool) -> Side:
    return dict(sorted(side.items(), reverse=best_first_descending)[:n])


@pytest.mark.asyncio
@pytest.mark.parametrize(("market", "depth_path"), [("spot", "/api/v3/depth"), ("usdm", "/fapi/v1/depth")])
async def test_binance_recorded_tape_leads_to_the_true_book(market: str, depth_path: str) -> None:
    with Simulator(seed=11, steps_per_second=50) as sim:
        endpoints = sim.endpoints("binance", market)
        venue, native_market = sim.native_venue("binance"), sim.native_market(market)
        streams = "btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker"
        async with websockets.connect(
            f"{endpoints.ws_public}/stream?streams={streams}", max_queue=None
        ) as ws:
            # USD-M routes trades to /market: this public connection must not get them.
            frames = sim.native.record_tape(venue, native_market, "BTCUSDT", 3_000, seed=5)
            snapshot = (
                BinanceRest(endpoints.rest)
                .request("GET", depth_path, {"symbol": "BTCUSDT", "limit": 1000})
                .body
            )
            bids: Side = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
            asks: Side = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
            assert sim.native.play_tape(venue, native_market) == frames

            final_id, _, _ = sim.book("binance", market, "BTCUSDT")
            assert final_id > snapshot["lastUpdateId"] + 2_000, "every step changes the book"
            last_u = snapshot["lastUpdateId"]
            kinds: dict[str, int] = {}
            while last_u < final_id:
                message = await recv_json(ws)
                kinds[message["stream"]] = kinds.get(message["stream"], 0) + 1
                event = message["data"]
                if event.get("e") != "depthUpdate" or event["u"] <= last_u:
                    continue  # (diffs published before the recording paused the market)
                assert event["U"] == last_u + 1, "one diff per step, no gap"
                if market == "usdm":
                    assert event["pu"] == last_u
                apply(bids, event["b"])
                apply(asks, event["a"])
                last_u = event["u"]
            assert (bids, asks) == truth(sim, "binance", market, "BTCUSDT")
            assert kinds["btcusdt@bookTicker"] > 100
            if market == "spot":
                assert kinds["btcusdt@trade"] > 100
            else:
                assert "btcusdt@trade" not in kinds

            # The live market continues from the tape's end.
            sim.native.pause(venue, native_market, False)
            message = await recv_json(ws)
            while message["data"].get("e") != "depthUpdate":
                message = await recv_json(ws)
            assert message["data"]["U"] == final_id + 1


@pytest.mark.asyncio
@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_bybit_recorded_tape_leads_to_the_true_book(category: str) -> None:
    with Simulator(seed=12, steps_per_second=0) as sim:
        url = sim.endpoints("bybit", category).ws_public
        venue, market = sim.native_venue("bybit"), sim.native_market(category)
        async with websockets.connect(url, max_queue=None) as ws:
            topics = ["orderbook.50.BTCUSDT", "publicTrade.BTCUSDT"]
            await ws.send(json.dumps({"op": "subscribe", "args": topics}))
            ack = await recv_json(ws)
            assert ack["success"] is True
            snapshot = await recv_json(ws)
            assert snapshot["type"] == "snapshot"
            bids: Side = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["b"]}
            asks: Side = {Decimal(p): Decimal(q) for p, q in snapshot["data"]["a"]}
            u = snapshot["data"]["u"]

            sim.native.record_tape(venue, market, "BTCUSDT", 2_000, seed=6)
            sim.native.play_tape(venue, market)
            trades = 0
            while True:
                message = await recv_json(ws)
                if message["topic"] == "publicTrade.BTCUSDT":
                    trades += 1
                    continue
                assert message["type"] == "delta"
                assert message["data"]["u"] == u + 1
                u = message["data"]["u"]
                apply(bids, message["data"]["b"])
                apply(asks, message["data"]["a"])
                true_bids, true_asks = truth(sim, "bybit", category, "BTCUSDT", 50)
                if (top(bids, 50, True), top(asks, 50, False)) == (true_bids, true_asks):
                    break
            assert trades > 50
            # Nothing of the tape is left but the trades of its last step (sent after that
            # step's delta): the next message comes only once the market moves.
            for _ in range(10):
                try:
                    message = await recv_json(ws, within=0.3)
                except TimeoutError:
                    break
                assert message["topic"] == "publicTrade.BTCUSDT", message
            else:
                raise AssertionError("the tape went on after the true book was reached")


@pytest.mark.asyncio
async def test_a_paced_tape_arrives_whole_and_in_order() -> None:
    with Simulator(seed=13, steps_per_second=0) as sim:
        endpoints = sim.endpoints("binance", "spot")
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        async with (
            websockets.connect(f"{endpoints.ws_public}/ws/ethusdt@depth", max_queue=None) as fast,
            websockets.connect(f"{endpoints.ws_public}/ws/ethusdt@depth@100ms", max_queue=None) as paced,
        ):
            sim.native.record_tape(venue, market, "ETHUSDT", 300, seed=1)
            sim.native.play_tape(venue, market, rate=3_000)
            final_id, _, _ = sim.book("binance", "spot", "ETHUSDT")

            async def ids(ws: Any) -> list[int]:
                seen = [(await recv_json(ws))["u"]]
                while seen[-1] < final_id:
                    seen.append((await recv_json(ws))["u"])
                return seen

            fast_ids, paced_ids = await asyncio.gather(ids(fast), ids(paced))
            assert fast_ids == paced_ids == sorted(paced_ids)


@pytest.mark.asyncio
async def test_the_send_time_of_every_frame_is_kept() -> None:
    """Benchmarks measure latency from the simulator's write of a frame to the consumer: each
    frame a connection took is logged once per connection with its wall-clock send time."""
    with Simulator(seed=16, steps_per_second=0) as sim:
        endpoints = sim.endpoints("binance", "spot")
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        assert sim.native.tape_frames(venue, market) == []
        assert sim.native.tape_sends(venue, market) == []
        async with websockets.connect(f"{endpoints.ws_public}/ws/btcusdt@depth@100ms", max_queue=None) as ws:
            sim.native.record_tape(venue, market, "BTCUSDT", 500, seed=2)
            frames = sim.native.tape_frames(venue, market)
            depth_ids = [i for route, i in frames if route == "depth"]
            trade_ids = [i for route, i in frames if route == "trade"]
            assert {route for route, _ in frames} == {"depth", "trade", "aggTrade", "bookTicker"}
            assert depth_ids == sorted(depth_ids) and len(depth_ids) > 400
            assert trade_ids == [i for route, i in frames if route == "aggTrade"] and trade_ids
            before = time.time_ns()
            sim.native.play_tape(venue, market, rate=5_000)
            received: list[tuple[int, int]] = []
            while len(received) < len(depth_ids):
                received.append(((await recv_json(ws))["u"], time.time_ns()))
            sends = sim.native.tape_sends(venue, market)
            # Only what the connection is subscribed to, each frame once, in tape order.
            assert [(route, i) for route, i, _ in sends] == [("depth", i) for i in depth_ids]
            assert [i for i, _ in received] == depth_ids
            sent_ns = [ns for _, _, ns in sends]
            assert before < sent_ns[0] and sent_ns == sorted(sent_ns)
            assert all(sent <= got for sent, (_, got) in zip(sent_ns, received, strict=True))
            # Paced at 5,000 frames/s of tape: the last diff goes out about 0.1 s after the first.
            assert sent_ns[-1] - sent_ns[0] > 50_000_000
            assert sim.native.tape_sends(venue, market, "trade") == []
            assert len(sim.native.tape_sends(venue, market, "depth")) == len(depth_ids)


@pytest.mark.asyncio
async def test_a_precise_play_is_paced_frame_by_frame() -> None:
    """A rate is sent in bursts on the 1 ms timer; a precise play sends frame by frame."""
    with Simulator(seed=17, steps_per_second=0) as sim:
        endpoints = sim.endpoints("binance", "spot")
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        async with websockets.connect(f"{endpoints.ws_public}/ws/btcusdt@depth", max_queue=None) as ws:
            writes = {}
            for precise in (False, True):
                sim.native.record_tape(venue, market, "BTCUSDT", 600, seed=3)
                last = max(i for route, i in sim.native.tape_frames(venue, market) if route == "depth")
                sim.native.play_tape(venue, market, rate=10_000, precise=precise)
                while (await recv_json(ws))["u"] < last:
                    pass
                sends = sim.native.tape_sends(venue, market, "depth")
                writes[precise] = len({ns for _, _, ns in sends})
                assert writes[precise] <= len(sends)
            # About 100 ms of tape: about 100 timer bursts, or a write per frame.
            assert writes[True] > 2 * writes[False], writes


@pytest.mark.asyncio
async def test_recorded_files_replay_byte_for_byte(tmp_path: Path) -> None:
    lines = [
        '{"stream":"btcusdt@bookTicker","data":{"u":1127645101,"s":"BTCUSDT","b":"8010.00000000","B":"0.14245900","a":"8012.15000000","A":"0.03120100"}}',
        '{"stream":"bnbbtc@trade","data":{"e":"trade","E":1554076800945,"s":"BNBBTC","t":40756030,"p":"0.00426990","q":"33.82000000","b":133829535,"a":133829504,"T":1554076800940,"m":false,"M":true}}',
        '{"e":"trade","E":1638747660000,"s":"BTCUSDT","t":1,"p":"48000.10","q":"0.002","T":1638747660000,"m":true,"M":true}',
        '{"result":null,"id":1}',
    ]
    recording = tmp_path / "binance.jsonl"
    recording.write_text("\n".join(lines) + "\n")
    with Simulator(seed=14, steps_per_second=0) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        endpoints = sim.endpoints("binance", "spot")
        # One unlisted symbol and one reply line are skipped.
        assert sim.native.load_tape(venue, market, recording) == (2, 2)
        async with (
            websockets.connect(
                f"{endpoints.ws_public}/stream?streams=btcusdt@bookTicker/btcusdt@trade"
            ) as combined,
            websockets.connect(f"{endpoints.ws_public}/ws/btcusdt@trade") as raw,
        ):
            live = json.loads(await combined.recv())
            assert live["data"]["s"] == "BTCUSDT", "the book ticker of the frozen live book, once"
            sim.native.play_tape(venue, market)
            assert await combined.recv() == lines[0]
            assert json.loads(await combined.recv()) == {
                "stream": "btcusdt@trade",
                "data": json.loads(lines[2]),
            }
            assert await raw.recv() == lines[2]

        bybit = tmp_path / "bybit.jsonl"
        real = Path(__file__).parent / "fixtures/real/bybit-linear/ws-public/tardis-2023-bybit-v5.jsonl"
        bybit.write_text(real.read_text())
        by_venue, linear = sim.native_venue("bybit"), sim.native_market("linear")
        loaded, skipped = sim.native.load_tape(by_venue, linear, bybit)
        expected = [line for line in real.read_text().splitlines() if '"topic":"orderbook.1.BTCUSDT"' in line]
        assert loaded >= len(expected) > 0 and skipped > 0
        async with websockets.connect(sim.endpoints("bybit", "linear").ws_public) as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": ["orderbook.1.BTCUSDT"]}))
            assert (await recv_json(ws))["success"] is True
            await recv_json(ws)  # the live snapshot
            sim.native.play_tape(by_venue, linear)
            assert [await ws.recv() for _ in expected] == expected


def test_tape_errors_are_clear() -> None:
    with Simulator(seed=15, steps_per_second=0) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        with pytest.raises(ValueError, match="no tape is loaded"):
            sim.native.play_tape(venue, market)
        with pytest.raises(ValueError, match="NOPE is not listed"):
            sim.native.record_tape(venue, market, "NOPE", 10)
        with pytest.raises(ValueError, match=r"missing\.jsonl"):
            sim.native.load_tape(venue, market, "/nonexistent/missing.jsonl")
        client = BinanceRest(sim.endpoints("binance", "spot").rest, sim.account("binance"))
        sim.native.record_tape(venue, market, "BTCUSDT", 10)
        order = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
        }
        bid = sim.best("binance", "spot", "BTCUSDT")[0]
        placed = client.request("POST", "/api/v3/order", {**order, "price": str(bid)}, signed=True)
        assert placed.status == 200
        with pytest.raises(ValueError, match="moved since the tape was recorded"):
            sim.native.play_tape(venue, market)
        with pytest.raises(ValueError, match="account orders resting"):
            sim.native.record_tape(venue, market, "BTCUSDT", 10)

"""The judges on candles (issue 22 item 7): the official Binance SDKs, pybit and ccxt read the
simulator's klines by REST (`fetchOHLCV`) and live (`watchOHLCV`), unmodified but for their URL
settings (DESIGN.md decision 6), and what they read equals the simulator's true candles. The
simulator makes its candles from its own trades, so a judge that parses them also checks their
shape against what the venues send."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .test_judges import no_warnings, point_ccxt_at, spot_client, usdm_client


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=37, steps_per_second=200) as running:
        time.sleep(2.2)  # a few 1 s candles closed
        yield running


def closed_truth(sim: Simulator, venue: str, market: str, interval: str) -> dict[int, tw.Kline]:
    return {
        k.open_time_ms: k for k in sim.candles(venue, market, "BTCUSDT", tw.Interval(interval)) if k.closed
    }


def same_row(row: list[Any], truth: tw.Kline) -> None:
    """An OHLCV row ``[time, open, high, low, close, volume, ...]`` equal to a true candle."""
    assert int(row[0]) == truth.open_time_ms
    assert [Decimal(str(v)) for v in row[1:6]] == [
        truth.open,
        truth.high,
        truth.low,
        truth.close,
        truth.volume,
    ]


def test_binance_sdks_read_rest_candles(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    rows = spot_client(sim).rest_api.klines(symbol="BTCUSDT", interval="1s", limit=5).data()
    truth = closed_truth(sim, "binance", "spot", "1s")
    closed = [r for r in rows if r[0] in truth]
    assert len(closed) >= 2 and rows[-1][0] >= closed[-1][0]
    for row in closed:
        same_row(row, truth[row[0]])
        assert (row[6], row[8]) == (truth[row[0]].close_time_ms, truth[row[0]].trades)
    rows = usdm_client(sim).rest_api.kline_candlestick_data(symbol="BTCUSDT", interval="1m", limit=3).data()
    assert rows and all(len(r) == 12 for r in rows)
    current = sim.candles("binance", "usdm", "BTCUSDT", "1m")[-1]
    # The current candle (or, read across a minute's end, the one before it).
    assert current.open_time_ms - rows[-1][0] in (0, 60_000)
    assert rows[-1][6] == rows[-1][0] + 59_999
    no_warnings(caplog)


@pytest.mark.asyncio
async def test_binance_sdks_read_live_candles(sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    got: list[Any] = []
    spot = await spot_client(sim).websocket_streams.create_connection()
    try:
        handle = await spot.kline(symbol="BTCUSDT", interval="1s")
        handle.on("message", got.append)
        for _ in range(60):
            if any(m.k.x for m in got):
                break
            await asyncio.sleep(0.1)
    finally:
        await spot.close_connection(close_session=True)
    final = next(m.k for m in got if m.k.x)
    truth = closed_truth(sim, "binance", "spot", "1s")[final.t]
    assert [Decimal(v) for v in (final.o, final.h, final.l, final.c, final.v)] == [
        truth.open,
        truth.high,
        truth.low,
        truth.close,
        truth.volume,
    ]
    assert (final.n, final.T) == (truth.trades, truth.close_time_ms)
    usdm: list[Any] = []
    futures = await usdm_client(sim).websocket_streams.create_connection()
    try:
        handle = await futures.kline_candlestick_streams(symbol="BTCUSDT", interval="1m")
        handle.on("message", usdm.append)
        for _ in range(50):
            if len(usdm) >= 2:
                break
            await asyncio.sleep(0.1)
    finally:
        await futures.close_connection(close_session=True)
    assert len(usdm) >= 2 and usdm[-1].k.i == "1m" and not usdm[-1].k.x
    no_warnings(caplog)


def test_pybit_reads_rest_and_live_candles(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    import pybit.unified_trading as unified
    from pybit.unified_trading import HTTP, WebSocket

    session = HTTP(testnet=False)
    session.endpoint = sim.endpoints("bybit", "linear").rest
    listed = session.get_kline(category="linear", symbol="BTCUSDT", interval=1, limit=3)["result"]["list"]
    current = sim.candles("bybit", "linear", "BTCUSDT", "1m")[-1]
    # Newest first, every field a string.
    assert current.open_time_ms - int(listed[0][0]) in (0, 60_000)
    assert all(isinstance(v, str) for row in listed for v in row)
    monkeypatch.setattr(
        unified, "PUBLIC_WSS", sim.endpoints("bybit", "spot").ws_public.rsplit("/", 1)[0] + "/{CHANNEL_TYPE}"
    )
    seen: list[Any] = []
    arrived = threading.Event()
    ws = WebSocket(testnet=False, channel_type="spot")
    try:

        def on_kline(message: Any) -> None:
            seen.append(message)
            arrived.set()

        ws.kline_stream(1, "BTCUSDT", on_kline)
        assert arrived.wait(10), "no candle"
    finally:
        ws.exit()
    candle = seen[0]["data"][0]
    assert seen[0]["topic"] == "kline.1.BTCUSDT" and candle["confirm"] is False
    assert sim.candles("bybit", "spot", "BTCUSDT", "1m")[-1].open_time_ms - candle["start"] in (0, 60_000)


@pytest.mark.asyncio
async def test_ccxt_fetch_and_watch_ohlcv(sim: Simulator) -> None:
    import ccxt.pro as ccxtpro

    spot = sim.endpoints("binance", "spot")
    binance = ccxtpro.binance()
    binance.options["fetchMarkets"] = {"types": ["spot"]}
    point_ccxt_at(binance, spot.rest)
    binance.urls["api"]["ws"]["spot"] = f"{spot.ws_public}/stream"
    usdm = sim.endpoints("binance", "usdm")
    futures = ccxtpro.binanceusdm()
    point_ccxt_at(futures, usdm.rest, {"sapi": spot.rest})
    futures.urls["api"]["ws"]["future"] = futures.urls["api"]["ws"]["linear"] = (
        f"{usdm.rest.replace('http', 'ws')}/ws"
    )
    linear = sim.endpoints("bybit", "linear")
    bybit = ccxtpro.bybit()
    bybit.options["fetchMarkets"] = {"types": ["linear"]}
    bybit.urls["api"]["public"] = bybit.urls["api"]["private"] = linear.rest
    bybit.urls["api"]["ws"]["public"]["linear"] = linear.ws_public
    try:
        rows = await binance.fetch_ohlcv("BTC/USDT", "1s", limit=4)
        truth = closed_truth(sim, "binance", "spot", "1s")
        for row in rows[:-1]:
            same_row(row, truth[row[0]])
        live = await asyncio.wait_for(binance.watch_ohlcv("BTC/USDT", "1s"), 15)
        assert live[-1][0] >= rows[-1][0]
        for exchange, symbol, venue, market in (
            (futures, "BTC/USDT:USDT", "binance", "usdm"),
            (bybit, "BTC/USDT:USDT", "bybit", "linear"),
        ):
            rows = await exchange.fetch_ohlcv(symbol, "1m", limit=2)
            live = await asyncio.wait_for(exchange.watch_ohlcv(symbol, "1m"), 15)
            current = sim.candles(venue, market, "BTCUSDT", "1m")[-1]
            assert current.open_time_ms - rows[-1][0] in (0, 60_000)
            assert current.open_time_ms - live[-1][0] in (0, 60_000) and live[-1][4] > 0
    finally:
        for exchange in (binance, futures, bybit):
            await exchange.close()

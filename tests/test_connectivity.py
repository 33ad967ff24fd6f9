"""Connectors against the simulator over real sockets: signed REST on both venues, the clock
kept within 500 ms of a skewed and drifting venue (RESL-04), a 429 waited out and a ban failing
fast with its end (CONN-06), the circuit breaker's whole cycle seen in health() and events()
(RESL-01..03), and clear errors for bad input (CONN-01)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=21, steps_per_second=0, time_scale=60) as running:
        yield running


def binance(sim: Simulator, market: str = "spot", **options: Any) -> tw.Binance:
    keys = sim.account("binance")
    return tw.Binance(
        market,  # type: ignore[arg-type]
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        endpoints=sim.endpoints("binance", market),
        **options,
    )


def bybit(sim: Simulator, market: str = "linear", **options: Any) -> tw.Bybit:
    keys = sim.account("bybit")
    return tw.Bybit(
        market,  # type: ignore[arg-type]
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        endpoints=sim.endpoints("bybit", market),
        **options,
    )


@pytest.mark.asyncio
async def test_signed_requests_on_both_venues_and_limits_from_exchange_info(sim: Simulator) -> None:
    async with binance(sim) as bn, binance(sim, "usdm") as usdm, bybit(sim) as by:
        account = await bn.request("GET", "/api/v3/account", signed=True)
        assert {b["asset"] for b in account["balances"]} >= {"USDT", "BTC"}
        balance = await usdm.request("GET", "/fapi/v3/balance", signed=True)
        assert any(b["asset"] == "USDT" for b in balance)
        wallet = await by.request(
            "GET", "/v5/account/wallet-balance", {"accountType": "UNIFIED"}, signed=True
        )
        assert wallet["retCode"] == 0

        health = bn.health()
        assert (health.venue, health.market, health.breaker_state) == ("binance", "spot", "closed")
        # The venue's published window (scaled to 1 s here) replaced the documented minute.
        assert [limit.name for limit in health.limits if limit.name.startswith("REQUEST_WEIGHT")] == [
            "REQUEST_WEIGHT 1S"
        ]
        assert health.clock_samples >= 3 and health.clock_offset_ms is not None
    venue, market = sim.native_venue("binance"), sim.native_market("spot")
    assert sim.native.violations(venue, market) == (0, 0, 0)
    # On the venue's real minute window, start-up's exchangeInfo and the account read both count.
    with Simulator(seed=24, steps_per_second=0) as unscaled:
        started_minute = time.time_ns() // 60_000_000_000  # the simulator's clock is not skewed
        async with binance(unscaled) as bn:
            await bn.request("GET", "/api/v3/account", signed=True)
            weight = next(limit for limit in bn.health().limits if limit.name.startswith("REQUEST_WEIGHT"))
            assert weight.name == "REQUEST_WEIGHT 1M"
            # (Unless the minute turned in between, which leaves only the account read in it.)
            same_minute = time.time_ns() // 60_000_000_000 == started_minute
            assert weight.used >= (20 + 20 if same_minute else 20), "exchangeInfo and account are weighed"


@pytest.mark.asyncio
async def test_public_data_needs_no_keys_and_private_calls_say_so(sim: Simulator) -> None:
    async with tw.Binance("spot", endpoints=sim.endpoints("binance", "spot")) as bn:
        depth = await bn.request("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
        assert len(depth["bids"]) == 5
        with pytest.raises(tw.InvalidArgument, match="needs API keys"):
            await bn.request("GET", "/api/v3/account", signed=True)


@pytest.mark.asyncio
async def test_clock_stays_within_500ms_of_a_skewed_drifting_venue() -> None:
    with Simulator(seed=22, steps_per_second=0) as sim:
        venue = sim.native_venue("binance")
        sim.native.set_clock(venue, skew_ms=4_000, drift_us_per_s=20_000)
        async with binance(sim, clock_interval=0.2) as bn:
            for _ in range(10):
                await asyncio.sleep(0.2)
                truth = sim.native.clock_offset_ms(venue)
                offset = bn.health().clock_offset_ms
                assert offset is not None and abs(offset - truth) < 500, (offset, truth)
            # A sudden jump is caught by the venue's -1021 and fixed by an immediate resync.
            sim.native.set_clock(venue, skew_ms=-9_000)
            await bn.request("GET", "/api/v3/account", signed=True)
            offset = bn.health().clock_offset_ms
            assert offset is not None and abs(offset - sim.native.clock_offset_ms(venue)) < 500


@pytest.mark.asyncio
async def test_rate_limit_waits_and_bans_fail_fast() -> None:
    with Simulator(seed=23, steps_per_second=0, time_scale=60) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        async with binance(sim) as bn:
            events = bn.events()
            sim.native.force_rate_limit(venue, market, 1)
            assert "serverTime" in await bn.request("GET", "/api/v3/time")
            sim.native.force_ban(venue, market, 60_000)
            with pytest.raises(tw.Banned) as banned:
                await bn.request("GET", "/api/v3/time")
            banned_until = bn.health().banned_until_ms
            assert banned_until is not None and banned_until > bn.server_time_ms() + 30_000
            assert banned.value.until_ms == banned_until
            refused = sim.native.violations(venue, market)
            for _ in range(3):
                with pytest.raises(tw.Banned):
                    await bn.request("GET", "/api/v3/account", signed=True)
            assert sim.native.violations(venue, market) == refused, "nothing reached the venue"
            kinds = []
            async with asyncio.timeout(5):
                async for event in events:
                    kinds.append(event.kind)
                    if event.kind == "banned":
                        assert int(event.fields["until_ms"]) == banned_until
                        break
            assert "rate_limited" in kinds


@pytest.mark.asyncio
async def test_breaker_opens_fails_fast_and_closes_after_a_probe(sim: Simulator) -> None:
    # Bybit serves both categories from one host: its REST faults are set on spot.
    venue, market = sim.native_venue("bybit"), sim.native_market("spot")
    ticker = {"category": "linear", "symbol": "BTCUSDT"}
    async with bybit(sim, breaker_failures=3, breaker_cool_down=0.3) as by:
        events = by.events()
        sim.native.fail_rest(venue, market, status_5xx=1_000)
        try:
            with pytest.raises(tw.ExchangeError):
                await by.request("GET", "/v5/market/tickers", ticker)
            with pytest.raises(tw.CircuitOpen):
                await by.request("GET", "/v5/market/tickers", ticker)
            health = by.health()
            assert health.breaker_state == "open" and health.breaker_retry_in is not None
        finally:
            sim.native.fail_rest(venue, market, status_5xx=0)
        await until(lambda: not by.health().breaker_retry_in, 5, "the breaker's cool-down")
        await by.request("GET", "/v5/market/tickers", ticker)
        assert by.health().breaker_state == "closed"
        seen = []
        async for event in events:
            if event.kind == "breaker":
                seen.append((event.fields["from"], event.fields["to"]))
            if len(seen) == 3:
                break
        assert seen == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


@pytest.mark.asyncio
async def test_bad_input_is_refused_clearly(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="no market 'linear'"):
        tw.Binance("linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a positive"):
        tw.Bybit("spot", timeout=0)
    with pytest.raises(tw.InvalidArgument, match="https is required"):
        await tw.Binance(
            "spot", endpoints=tw.Endpoints(rest="http://example.com", ws_public="ws://x")
        ).start()
    with pytest.raises(tw.InvalidArgument, match="api_secret"):
        await tw.Binance("spot", api_key="k", endpoints=sim.endpoints("binance", "spot")).start()
    with pytest.raises(tw.InvalidArgument, match="recv_window_ms"):
        await binance(sim, recv_window_ms=70_000).start()
    with pytest.raises(tw.ConnectionLost):
        await tw.Bybit(
            "linear",
            endpoints=tw.Endpoints(rest="http://127.0.0.1:9", ws_public="ws://127.0.0.1:9"),
            timeout=1,
        ).start()
    async with binance(sim) as bn:
        async with tw.Binance(
            "spot", api_key="nope", api_secret="nope", endpoints=sim.endpoints("binance", "spot")
        ) as wrong:
            with pytest.raises(tw.AuthError) as refused:
                await wrong.request("GET", "/api/v3/account", signed=True)
            assert refused.value.code == -2015
        with pytest.raises(tw.InvalidArgument, match="method"):
            await bn.request("PATCH", "/api/v3/time")  # type: ignore[arg-type]
    with pytest.raises(tw.StreamClosed, match="not started"):
        bn.health()


@pytest.mark.asyncio
async def test_streams_survive_drops_and_report_every_step() -> None:
    with Simulator(seed=24, steps_per_second=300) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("usdm")
        async with binance(sim, "usdm") as bn:
            events = bn.events()
            # USD-M routes books to /public and trades to /market: two connections.
            async with bn.raw_stream("btcusdt@depth@100ms", "btcusdt@aggTrade") as stream:
                seen: set[str] = set()
                async for message in stream:
                    assert isinstance(message, str)
                    seen.add(json.loads(message)["stream"])
                    if len(seen) == 2:
                        break
                urls = sorted(c.url.rsplit("/", 2)[-2] for c in bn.health().connections)
                assert urls == ["market", "public"]

                sim.native.drop_connections(venue, market)
                kinds: list[str] = []
                async for event in events:
                    kinds.append(event.kind)
                    if kinds.count("resubscribed") == 4:  # 2 at start, 2 after the drop
                        break
                assert kinds.count("disconnected") == 2 and "reconnecting" in kinds
                after: set[str] = set()
                async for message in stream:
                    if isinstance(message, str):
                        after.add(json.loads(message)["stream"])
                    if len(after) == 2:
                        break
                health = bn.health()
                assert all(c.connected and c.reconnects == 1 for c in health.connections)
                ages = dict(health.subscriptions)
                assert set(ages) == {"btcusdt@depth@100ms", "btcusdt@aggTrade"}
                assert all(age is not None and age < 5 for age in ages.values())
                assert all(
                    c.last_message_age is not None and c.last_message_age < 5 for c in health.connections
                )


@pytest.mark.asyncio
async def test_bybit_raw_topics_and_bad_topics(sim: Simulator) -> None:
    async with bybit(sim, "spot") as by:
        with pytest.raises(tw.InvalidArgument, match="topics"):
            by.raw_stream()
        async with by.raw_stream("orderbook.50.BTCUSDT") as stream:
            first = json.loads(await anext(aiter(stream)))  # type: ignore[arg-type]
            assert first["topic"] == "orderbook.50.BTCUSDT" and first["type"] == "snapshot"


@pytest.mark.asyncio
async def test_a_write_that_times_out_is_never_resent() -> None:
    with Simulator(seed=25, steps_per_second=0) as sim:
        venue, market = sim.native_venue("binance"), sim.native_market("spot")
        async with binance(sim, timeout=1.0) as bn:
            bid = sim.best("binance", "spot", "BTCUSDT")[0]
            order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            sim.native.fail_rest(venue, market, hang=1)
            with pytest.raises(tw.Timeout):
                await bn.request(
                    "POST", "/api/v3/order", {**order, "quantity": "0.001", "price": str(bid)}, signed=True
                )
            await asyncio.sleep(0.2)
            assert sim.orders("binance", "spot") == [], "a resend would have placed it"
            # A read that hangs once is sent again and answers.
            sim.native.fail_rest(venue, market, hang=1)
            assert "serverTime" in await bn.request("GET", "/api/v3/time")


@pytest.mark.asyncio
async def test_symbol_rules_on_both_venues(sim: Simulator) -> None:
    from decimal import Decimal

    async with binance(sim) as bn, bybit(sim, "linear") as by:
        info = await bn.symbol_info("BTCUSDT")
        assert (info.symbol, info.base_asset, info.quote_asset, info.trading) == (
            "BTCUSDT",
            "BTC",
            "USDT",
            True,
        )
        assert (info.tick_size, info.step_size) == (Decimal("0.01"), Decimal("0.00001"))
        assert info.min_notional == Decimal("5")
        assert any(f["filterType"] == "LOT_SIZE" for f in info.filters)
        names = [s.symbol for s in await bn.symbols()]
        assert names == sorted(names) and {"BTCUSDT", "ETHUSDT", "SOLUSDT"} <= set(names)
        linear = await by.symbol_info("SOLUSDT")
        assert (linear.tick_size, linear.step_size) == (Decimal("0.001"), Decimal("0.1"))
        with pytest.raises(tw.InvalidArgument, match="'NOPE' is not listed on bybit linear"):
            await by.symbol_info("NOPE")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("venue", "market"), [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]
)
async def test_typed_trades_with_exact_prices(venue: str, market: str) -> None:
    from decimal import Decimal

    with Simulator(seed=26, steps_per_second=400) as sim:
        connector = binance(sim, market) if venue == "binance" else bybit(sim, market)
        async with connector as c:
            with pytest.raises(tw.InvalidArgument, match="'NOPE' is not listed"):
                c.trades("NOPE")
            seen: list[tw.Trade] = []
            async with c.trades("BTCUSDT", "ETHUSDT") as stream:
                async for trade in stream:
                    assert isinstance(trade, tw.Trade), trade
                    seen.append(trade)
                    if {t.symbol for t in seen} == {"BTCUSDT", "ETHUSDT"} and len(seen) >= 5:
                        break
            for trade in seen:
                assert (trade.venue.value, trade.market.value) == (venue, market)
                assert isinstance(trade.price, Decimal) and trade.price > 0 and trade.qty > 0
                assert trade.exchange_time_ms > 0 and trade.local_time_ns > 0
            info = {s: await c.symbol_info(s) for s in ("BTCUSDT", "ETHUSDT")}
            for trade in seen:
                assert trade.price % info[trade.symbol].tick_size == 0, "prices on the symbol's tick grid"

"""History walks (issue 22 item 4): candles, fundings, aggregated trades and the account's own
fills and orders over ranges longer than a page, read page by page within each venue's paging
rules (time windows, ids, cursors) over loopback, with rate-limit refusals injected
mid-walk (retried, nothing lost or repeated), resumable from the walk's cursor, and the
`tradewire history` CLI writing CSV and Parquet with exact numbers."""

from __future__ import annotations

import asyncio
import csv
import itertools
import subprocess
import sys
from collections import Counter
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect
from .trading import MARKETS, trader

EIGHT_HOURS = 8 * 3_600_000


def consecutive(klines: list[tw.Kline]) -> bool:
    return all(b.open_time_ms == a.close_time_ms + 1 for a, b in itertools.pairwise(klines))


def requests(sim: Simulator, venue: str, market: str, path: str) -> int:
    where = tw.Market.SPOT if venue == "bybit" else tw.Market(market)
    return sim.native.rest_requests(tw.Venue(venue), where).get(path, 0)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("venue", "market", "interval", "skew_ms", "path"),
    [
        ("binance", "spot", "1s", 1_500_000, "GET /api/v3/klines"),
        ("bybit", "linear", "1m", 90_000_000, "GET /v5/market/kline"),
    ],
)
async def test_a_candle_walk_crosses_pages_and_survives_rate_limit_refusals(
    venue: str, market: str, interval: str, skew_ms: int, path: str
) -> None:
    """The venue clock jumps ahead so that well over one page (1000 candles) lies between the
    listing and now; two refusals for the limits come mid-walk. Every candle arrives once, in
    order, equal to the venue's."""
    with Simulator(seed=71, steps_per_second=50, time_scale=20) as sim:
        listed = sim.candles(venue, market, "BTCUSDT", tw.Interval(interval))[0].open_time_ms
        sim.native.set_clock(tw.Venue(venue), skew_ms=skew_ms)
        async with connect(sim, venue, market) as c:
            walk = c.history.klines(
                "BTCUSDT", tw.Interval(interval), start=listed - 3_600_000, end=listed + skew_ms - 60_000
            )
            first = await walk.next_page()
            assert first is not None
            sim.native.force_rate_limit(tw.Venue(venue), tw.Market(market), 2)
            rest = [k async for k in walk]
            candles = first + rest
            assert walk.items == len(candles)
        assert len(candles) > 1000 and consecutive(candles)
        assert requests(sim, venue, market, path) >= 2, "more than one page"
        truth = {t.open_time_ms: t for t in sim.candles(venue, market, "BTCUSDT", tw.Interval(interval))}
        assert candles[0].open_time_ms == listed
        for k in candles:
            t = truth[k.open_time_ms]
            assert (k.open, k.high, k.low, k.close, k.volume) == (t.open, t.high, t.low, t.close, t.volume)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), [("binance", "usdm"), ("bybit", "linear")])
async def test_a_funding_walk_reads_a_year_and_resumes_from_its_cursor(venue: str, market: str) -> None:
    with Simulator(seed=73, steps_per_second=20, time_scale=20) as sim:
        async with connect(sim, venue, market) as c:
            latest = (await c.funding_rates("BTCUSDT", limit=1))[0].funding_time_ms
            start = latest - 1050 * EIGHT_HOURS  # more than a Binance page (1000)
            progress: list[tuple[int, int, int]] = []
            walk = c.history.funding_rates(
                "BTCUSDT", start=start, end=latest, progress=lambda *p: progress.append(p)
            )
            first = await walk.next_page()
            assert first is not None
            cursor = walk.cursor_ms
            # A crash here: a new walk from the cursor goes on without a gap or a repeat.
            sim.native.force_rate_limit(tw.Venue(venue), tw.Market(market), 1)
            resumed = c.history.funding_rates("BTCUSDT", start=cursor, end=latest)
            fundings = first + [f async for f in resumed]
        times = [f.funding_time_ms for f in fundings]
        assert times == list(range(start, latest + 1, EIGHT_HOURS))
        assert all(abs(f.rate) <= Decimal("0.0002") for f in fundings)
        assert progress and progress[0][2] == len(first) and progress[0][0] <= progress[0][1]


@pytest.mark.asyncio
async def test_bad_walks_are_refused_before_any_request() -> None:
    with Simulator(seed=79) as sim:
        async with connect(sim, "bybit", "spot") as c:
            with pytest.raises(tw.InvalidArgument, match="spot"):
                c.history.funding_rates("BTCUSDT", start=0)
            with pytest.raises(tw.InvalidArgument, match="8h"):
                c.history.klines("BTCUSDT", "8h", start=0)
            with pytest.raises(tw.InvalidArgument, match="start"):
                c.history.klines("BTCUSDT", "1m", start=2_000, end=1_000)
            with pytest.raises(tw.InvalidArgument, match="NOPEUSDT"):
                c.history.klines("NOPEUSDT", "1m", start=0)
            with pytest.raises(tw.InvalidArgument, match="aggregated"):
                c.history.agg_trades("BTCUSDT", start=0)
            with pytest.raises(tw.InvalidArgument, match="API keys"):
                c.history.my_trades("BTCUSDT", start=0)
        async with trader(sim, "bybit", "spot") as c:
            with pytest.raises(tw.InvalidArgument, match="between 1 and 50"):
                c.history.orders("BTCUSDT", start=0, page_size=51)
            with pytest.raises(tw.InvalidArgument, match="between 1 and 100"):
                c.history.my_trades("BTCUSDT", start=0, page_size=0)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_the_history_command_writes_exact_rows(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"funding{suffix}"
    done = subprocess.run(
        [sys.executable, "-m", "tradewire", "history", "--sim", "--venue", "binance:usdm", "--symbol",
         "BTC/USDT:USDT", "--kind", "funding", "--start", "2026-01-01", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    if suffix == ".csv":
        with out.open() as f:
            rows = list(csv.DictReader(f))
        rates = [Decimal(r["rate"]) for r in rows]
        times = [int(r["funding_time_ms"]) for r in rows]
    else:
        import pyarrow.parquet as pq

        table = pq.read_table(out)  # type: ignore[no-untyped-call]
        rates = [Decimal(str(v)) for v in table.column("rate").to_pylist()]
        times = table.column("funding_time_ms").to_pylist()
    assert len(rates) > 300 and all(b - a == EIGHT_HOURS for a, b in itertools.pairwise(times))
    assert all(abs(r) <= Decimal("0.0002") for r in rates)
    bad = subprocess.run(
        [sys.executable, "-m", "tradewire", "history", "--sim", "--venue", "nowhere", "--symbol", "X",
         "--start", "0", "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "VENUE:MARKET" in bad.stderr


def test_history_help_names_every_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tradewire", "history", "--help"], capture_output=True, text=True, check=True
    )
    for option in ("--venue", "--symbol", "--kind", "--interval", "--start", "--end", "--out", "--sim"):
        assert option in done.stdout
    for kind in ("klines", "funding", "agg_trades", "my_trades", "orders"):
        assert kind in done.stdout


@pytest.mark.parametrize(("kind", "first"), [("my_trades", "trade_id"), ("orders", "order_type")])
def test_the_history_command_reads_the_account_with_the_simulators_keys(
    tmp_path: Path, kind: str, first: str
) -> None:
    """The account's kinds are signed: with --sim the simulator's keys are used (a fresh
    account has no fills yet, so the file is its header alone)."""
    out = tmp_path / f"{kind}.csv"
    done = subprocess.run(
        [sys.executable, "-m", "tradewire", "history", "--sim", "--venue", "bybit:linear", "--symbol",
         "BTC/USDT:USDT", "--kind", kind, "--start", "2026-01-01", "--out", str(out), "--quiet"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with out.open() as f:
        header, *rows = list(csv.reader(f))
    assert first in header and header[:3] == ["venue", "market", "symbol"] and rows == []


DAY = 86_400_000
SIDES = {"spot": ("sell", "buy"), "usdm": ("buy", "sell"), "linear": ("buy", "sell")}


async def sweep(sim: Simulator, venue: str, market: str) -> None:
    """Two market orders that each take many resting orders, all in one millisecond, and
    leave the position as it was."""
    async with trader(sim, venue, market) as c:
        qty = Decimal("1.5") if market == "spot" else Decimal(2)
        for side in SIDES[market]:
            await c.place_market("BTCUSDT", side, qty)  # type: ignore[arg-type]
            await asyncio.sleep(0.3)


def fill_key(f: tw.Fill) -> tuple[object, ...]:
    # Binance writes a commission to 8 places (the simulator's cut, not rounded).
    fee = f.fee.quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
    return (f.trade_id, f.order_id, str(f.side), f.price, f.qty, fee, f.is_maker, f.exchange_time_ms)


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_own_fills_and_orders_walk_across_windows_pages_and_busy_milliseconds(
    venue: str, market: str
) -> None:
    """ROADMAP ORD-04: the account's fills and orders over nine days, more than the venue's
    window (Binance spot 24 h, USD-M and Bybit 7 days), in pages of 10 while one millisecond
    holds more than a page (a market order sweeping the book); refusals for the limits come
    mid-walk. Each fill and order arrives once, oldest first, as the venue recorded it."""
    with Simulator(seed=83, steps_per_second=20, time_scale=20) as sim:
        for day in (0, 2, 9):
            sim.native.set_clock(tw.Venue(venue), skew_ms=day * DAY)
            await sweep(sim, venue, market)
        truth = sim.fills(venue, market)
        busiest = max(Counter(f.exchange_time_ms for f in truth).values())
        assert busiest > 10, "a millisecond holds more than a page"
        start, end = truth[0].exchange_time_ms - 60_000, truth[-1].exchange_time_ms
        async with trader(sim, venue, market) as c:
            progress: list[tuple[int, int, int]] = []
            walk = c.history.my_trades(
                "BTC/USDT" if market == "spot" else "BTC/USDT:USDT",
                start=start,
                end=end,
                page_size=10,
                progress=lambda *p: progress.append(p),
            )
            first = await walk.next_page()
            # Bybit's pages come newest first: a window is delivered whole, oldest first, and a
            # minute can hold more than a page.
            assert first and (venue == "bybit" or len(first) <= 10)
            sim.native.force_rate_limit(tw.Venue(venue), tw.Market(market), 2)
            fills = first + [f async for f in walk]
            orders = [o async for o in c.history.orders("BTCUSDT", start=start, end=end, page_size=4)]
        assert [fill_key(f) for f in fills] == [fill_key(f) for f in truth]
        assert progress[-1] == (end - start, end - start, len(fills))
        placed = sim.orders(venue, market)
        assert len(placed) == 6
        assert [(o.order_id, o.status, o.filled_qty, o.created_time_ms) for o in orders] == [
            (o.order_id, o.status, o.filled_qty, o.created_time_ms) for o in placed
        ]
        if venue == "bybit":
            # Client order ids are in Bybit's execution list, not in Binance's trade list.
            assert {f.client_order_id for f in fills} == {o.client_order_id for o in placed}


@pytest.mark.asyncio
@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_an_aggregated_trade_walk_crosses_windows_and_busy_milliseconds(market: str) -> None:
    """Hours of Binance aggregated trades (USD-M answers an hour at a time) in pages of 10,
    with book sweeps putting more than a page in one millisecond: every trade once, in order."""
    with Simulator(seed=89, steps_per_second=20, time_scale=20) as sim:
        for hours in (0, 2, 5):
            sim.native.set_clock(tw.Venue.BINANCE, skew_ms=hours * 3_600_000)
            await sweep(sim, "binance", market)
        async with connect(sim, "binance", market) as c:
            listed = sim.trades("binance", market, "BTCUSDT")
            start, end = listed[0].exchange_time_ms, listed[-1].exchange_time_ms
            walk = c.history.agg_trades("BTCUSDT", start=start, end=end, page_size=10)
            trades = [t async for t in walk]
        truth = [t for t in sim.trades("binance", market, "BTCUSDT") if start <= t.exchange_time_ms <= end]
        assert max(Counter(t.exchange_time_ms for t in truth).values()) > 10
        assert [(str(t.agg_id), t.price, t.qty, t.side, t.exchange_time_ms) for t in trades] == [
            (t.trade_id, t.price, t.qty, t.side, t.exchange_time_ms) for t in truth
        ]
        if market == "usdm":
            assert requests(sim, "binance", market, "GET /fapi/v1/aggTrades") > 6, "an hour a request"

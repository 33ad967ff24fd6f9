"""Orders and account over REST against the simulator on all four markets (ORDR-01..09,
ACCT-01..04): place, query, list, cancel, cancel-all, local rule checks, unknown outcomes
resolved by client order id, balances and positions equal to the simulator's ledger."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until
from .trading import MARKETS, SYMBOL, ledger, resting_buy, sim_order, trader

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # A frozen market: resting orders stay resting, market orders meet the seeded book.
    with Simulator(steps_per_second=0) as running:
        yield running


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_limit_order_lifecycle(sim: Simulator, venue: str, market: str) -> None:
    """ORDR-01/04/05/06: place, look up by either id, list, cancel; the venue agrees at each step."""
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        placed = await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="life-1")
        assert (placed.status, placed.client_order_id) == (tw.OrderStatus.NEW, "life-1")
        assert placed.order_id != ""
        assert (placed.price, placed.qty, placed.filled_qty) == (price, qty, Decimal(0))
        truth = sim_order(sim, venue, market, "life-1")
        assert (truth.order_id, truth.status) == (placed.order_id, tw.OrderStatus.NEW)
        assert (truth.price, truth.qty) == (price, qty)

        by_id = await c.order(SYMBOL, order_id=placed.order_id)
        by_client = await c.order(SYMBOL, client_order_id="life-1")
        assert by_id == by_client
        assert by_id.status == tw.OrderStatus.NEW
        assert [o.client_order_id for o in await c.open_orders(SYMBOL)] == ["life-1"]
        assert "life-1" in [o.client_order_id for o in await c.open_orders()]

        canceled = await c.cancel(SYMBOL, client_order_id="life-1")
        assert canceled.status == tw.OrderStatus.CANCELED
        assert canceled.order_id == placed.order_id
        assert sim_order(sim, venue, market, "life-1").status == tw.OrderStatus.CANCELED
        assert await c.open_orders(SYMBOL) == []
        with pytest.raises(tw.OrderNotFound):
            await c.cancel(SYMBOL, order_id=placed.order_id)
        assert (await c.order(SYMBOL, order_id=placed.order_id)).status == tw.OrderStatus.CANCELED


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_market_order_fills_and_account_matches_the_ledger(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-02, ACCT-01/03: a market buy fills at once; balances (and positions) then equal the
    simulator's ledger field by field."""
    async with trader(sim, venue, market) as c:
        info = await c.symbol_info(SYMBOL)
        qty = info.step_size * 1000
        order = await c.place_market(SYMBOL, tw.Side.BUY, qty)
        assert order.status == tw.OrderStatus.FILLED
        assert order.filled_qty == qty
        assert order.avg_price is not None and order.avg_price > 0
        assert (await c.order(SYMBOL, client_order_id=order.client_order_id)).status == tw.OrderStatus.FILLED

        balances = await c.balances()
        for asset, (free, locked) in ledger(sim, venue, market).items():
            if free + locked == 0:
                continue
            assert (balances[asset].free, balances[asset].locked) == (free, locked), asset
        if market in ("usdm", "linear"):
            positions = await c.positions()
            truth_p = sim.positions(venue, market)[SYMBOL]
            mine = positions[SYMBOL]
            assert (mine.side, mine.size) == (tw.PositionSide.LONG, qty)
            assert (mine.size, mine.entry_price) == (truth_p.size, truth_p.entry_price)
            assert mine.leverage == truth_p.leverage
            assert (await c.positions(SYMBOL))[SYMBOL].size == qty
        else:
            with pytest.raises(tw.InvalidArgument):
                await c.positions()


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_cancel_all(sim: Simulator, venue: str, market: str) -> None:
    """ORDR-07: every open order of the symbol is canceled, and reported so."""
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        ids = []
        for k in range(3):
            o = await c.place_limit(SYMBOL, "BUY", qty, price - k * info.tick_size)
            ids.append(o.client_order_id)
        assert len(set(ids)) == 3, "generated client ids are unique"
        canceled = await c.cancel_all(SYMBOL)
        assert sorted(o.client_order_id for o in canceled) == sorted(ids)
        assert all(o.status == tw.OrderStatus.CANCELED for o in canceled)
        assert await c.open_orders(SYMBOL) == []
        assert all(sim_order(sim, venue, market, i).status == tw.OrderStatus.CANCELED for i in ids)


@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("bybit", "linear")])
async def test_local_checks_refuse_before_sending(sim: Simulator, venue: str, market: str) -> None:
    """ORDR-03: each broken rule is named; nothing reaches the venue."""
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        before = len(sim.orders(venue, market))
        cases: list[tuple[str, Decimal, Decimal]] = [
            ("tick_size", qty, price + info.tick_size / 2),
            ("step_size", qty + info.step_size / 2, price),
            ("qty", Decimal(0), price),
            ("min_notional", info.step_size, info.tick_size),
        ]
        for rule, bad_qty, bad_price in cases:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_limit(SYMBOL, "BUY", bad_qty, bad_price)
            assert refused.value.rule == rule, refused.value
        with pytest.raises(TypeError):
            await c.place_limit(SYMBOL, "BUY", float(qty), price)  # type: ignore[arg-type]
        with pytest.raises(tw.InvalidArgument):
            await c.place_limit("NOPEUSDT", "BUY", qty, price)
        with pytest.raises(tw.InvalidArgument):
            await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="no spaces allowed")
        with pytest.raises(tw.InvalidArgument):
            await c.cancel(SYMBOL)
        with pytest.raises(tw.InvalidArgument):
            await c.place_limit(SYMBOL, "sideways", qty, price)  # type: ignore[arg-type]
        if market == "linear":
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_market(SYMBOL, "BUY", quote_qty=Decimal(100))
            assert refused.value.rule == "quote_qty"
        else:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.place_limit(SYMBOL, "BUY", qty, price, reduce_only=True)
            assert refused.value.rule == "reduce_only"
        assert len(sim.orders(venue, market)) == before, "nothing was sent"
        placed = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="dup-1")
        with pytest.raises(tw.InvalidArgument):
            await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="dup-1")
        await c.cancel(SYMBOL, order_id=placed.order_id)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_lost_answer_is_found_by_client_id_not_resent(sim: Simulator, venue: str, market: str) -> None:
    """ORDR-08: the venue places the order but its answer never comes; the connector times out,
    finds the order by client id, and never sends it twice."""
    async with trader(sim, venue, market, timeout=0.5, recv_window_ms=1000) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        sim.native.fail_rest(sim.native_venue(venue), sim.native_market(market), lose_write_answers=1)
        order = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="lost-1")
        assert order.status == tw.OrderStatus.NEW
        assert order.order_id == sim_order(sim, venue, market, "lost-1").order_id
        await c.cancel(SYMBOL, client_order_id="lost-1")


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_unanswered_place_that_never_arrived_ends_rejected(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-08: the request hangs and the venue never acts on it: after its receive window the
    lookup's "not found" is proof, and the order ends REJECTED — not resent, not left UNKNOWN."""
    async with trader(sim, venue, market, timeout=0.5, recv_window_ms=500) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        sim.native.fail_rest(sim.native_venue(venue), sim.native_market(market), hang=1)
        order = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="gone-1")
        assert order.status == tw.OrderStatus.REJECTED
        assert [o for o in sim.orders(venue, market) if o.client_order_id == "gone-1"] == []


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_unresolvable_place_is_unknown_until_a_query_resolves_it(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-08: the answer is lost and every lookup fails too: the order comes back UNKNOWN
    (never resent), and a later query by client id gives its real state."""
    # REST: its lost answer is known only at the timeout, which leaves time to fail every
    # lookup before the first (the WebSocket session's is known at once).
    options = {"timeout": 0.3, "recv_window_ms": 300, "breaker_cool_down": 0.1, "transport": "rest"}
    async with trader(sim, venue, market, **options) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        v, m = sim.native_venue(venue), sim.native_market(market)
        sim.native.fail_rest(v, m, lose_write_answers=1)
        placing = asyncio.create_task(c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="unk-1"))
        await until(
            lambda: any(o.client_order_id == "unk-1" for o in sim.orders(venue, market)), 5, "the order"
        )
        sim.native.fail_rest(v, m, status_5xx=100_000)  # every lookup now fails
        order = await placing
        assert order.status == tw.OrderStatus.UNKNOWN
        assert len([o for o in sim.orders(venue, market) if o.client_order_id == "unk-1"]) == 1, "not resent"
        sim.native.fail_rest(v, m)
        await until(lambda: not c.health().breaker_retry_in, 5, "the breaker's cool-down")
        resolved = await c.order(SYMBOL, client_order_id="unk-1")
        assert resolved.status == tw.OrderStatus.NEW
        assert resolved.order_id == sim_order(sim, venue, market, "unk-1").order_id
        await c.cancel(SYMBOL, client_order_id="unk-1")


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_post_only_order_that_would_take_is_refused_alike_on_every_venue(
    venue: str, market: str
) -> None:
    """Binance refuses it, Bybit accepts it and cancels it at once: both are PostOnlyRejected,
    and nothing rests at the venue."""
    with Simulator(steps_per_second=0) as sim:
        async with trader(sim, venue, market) as c:
            _, qty = await resting_buy(sim, c, venue, market)
            _, ask = sim.best(venue, market, SYMBOL)
            with pytest.raises(tw.PostOnlyRejected) as refused:
                await c.place_limit(SYMBOL, "BUY", qty, ask, post_only=True, client_order_id=f"po-{market}")
            assert isinstance(refused.value, tw.InvalidOrder)
            assert refused.value.rule == "post_only_would_take"
            assert refused.value.venue == venue
            assert not [o for o in sim.orders(venue, market) if o.status.is_open]
            if venue == "bybit":
                # The venue's own record: accepted, then canceled for that reason.
                order = await c.order(SYMBOL, client_order_id=f"po-{market}")
                assert order.status == tw.OrderStatus.CANCELED
                assert order.reject_reason == "EC_PostOnlyWillTakeLiquidity"


@pytest.mark.asyncio
@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_insufficient_funds_is_its_own_error(venue: str, market: str) -> None:
    with Simulator(steps_per_second=0) as sim:
        async with trader(sim, venue, market) as c:
            info = await c.symbol_info(SYMBOL)
            price, _ = await resting_buy(sim, c, venue, market)
            quote = sum(b.free for b in (await c.balances()).values() if b.asset == "USDT")
            # Far more than the account holds (at any leverage), within the symbol's limits.
            qty = (quote * 1000 / price) // info.step_size * info.step_size
            if info.max_qty is not None:
                qty = min(qty, info.max_qty)
            updates = c.order_updates()
            with pytest.raises(tw.InsufficientFunds) as refused:
                await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id=f"broke-{market}")
            assert refused.value.rule == "insufficient_funds" and refused.value.code is not None
            update = await anext(aiter(updates))
            assert update.order.client_order_id == f"broke-{market}"
            assert update.order.status == tw.OrderStatus.REJECTED
            assert (
                update.order.reject_reason is not None
                and "insufficient" in update.order.reject_reason.lower()
            )
            updates.close()


@pytest.mark.asyncio
async def test_a_venue_error_names_the_request() -> None:
    with Simulator(steps_per_second=0) as sim:
        async with trader(sim, "binance", "spot") as c:
            with pytest.raises(tw.ExchangeError) as refused:
                await c.request("GET", "/api/v3/nope")
            assert "GET /api/v3/nope" in str(refused.value), refused.value
            assert refused.value.http_status == 404

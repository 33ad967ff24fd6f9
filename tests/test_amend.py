"""Amend and cancel-replace against the simulator on all four markets (issue 21, item 1;
ORDR-01/08): in-place amendments with each venue's queue rule, Binance spot's cancel-replace,
refusals that leave the order as it was, lost answers resolved by lookup (never resent), and
amendment events duplicated and reordered on the user stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until
from .trading import MARKETS, SYMBOL, resting_buy, sim_order, trader, writes

pytestmark = pytest.mark.asyncio

#: Where a price change is an amendment in place (Binance spot replaces instead).
IN_PLACE = [m for m in MARKETS if m != ("binance", "spot")]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


def truth(sim: Simulator, venue: str, market: str, client_order_id: str) -> tuple[object, ...]:
    o = sim_order(sim, venue, market, client_order_id)
    return (o.order_id, o.status, o.price, o.qty)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_quantity_decrease_is_made_in_place(sim: Simulator, venue: str, market: str) -> None:
    """The same order (ids kept) with the new quantity, as the venue holds it; the change comes
    through ``order_updates`` once."""
    async with trader(sim, venue, market) as c:
        updates = c.order_updates()
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        placed = await c.place_limit(SYMBOL, "BUY", qty * 2, price, client_order_id="am-q")
        amended = await c.amend(SYMBOL, client_order_id="am-q", qty=qty)
        assert (amended.order_id, amended.client_order_id) == (placed.order_id, "am-q")
        assert (amended.status, amended.price, amended.qty) == (tw.OrderStatus.NEW, price, qty)
        assert truth(sim, venue, market, "am-q") == (placed.order_id, tw.OrderStatus.NEW, price, qty)
        # By the venue's id as well, and a decrease again.
        smaller = qty - info.step_size * 10
        again = await c.amend(SYMBOL, order_id=placed.order_id, qty=smaller)
        assert (again.order_id, again.qty) == (placed.order_id, smaller)
        assert await c.order(SYMBOL, client_order_id="am-q") == again
        seen: list[Decimal | None] = []
        async for u in updates:
            if u.order.client_order_id == "am-q":
                seen.append(u.order.qty)
            if seen and seen[-1] == smaller:
                break
        assert seen == [qty * 2, qty, smaller], "each revision once, in order"
        updates.close()
        await c.cancel(SYMBOL, client_order_id="am-q")


@pytest.mark.parametrize(("venue", "market"), IN_PLACE)
async def test_a_price_change_is_made_in_place(sim: Simulator, venue: str, market: str) -> None:
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        placed = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="am-p")
        lower = price - 3 * info.tick_size
        amended = await c.amend(SYMBOL, client_order_id="am-p", price=lower, qty=qty * 3)
        assert (amended.order_id, amended.price, amended.qty) == (placed.order_id, lower, qty * 3)
        assert truth(sim, venue, market, "am-p") == (placed.order_id, tw.OrderStatus.NEW, lower, qty * 3)
        await c.cancel(SYMBOL, client_order_id="am-p")


async def test_binance_spot_replaces_for_a_price_change(sim: Simulator) -> None:
    """Spot amends in place only a quantity decrease: a price change is one cancel-replace; the
    replacement carries the unfilled rest and the given client id, the old order ends CANCELED."""
    async with trader(sim, "binance", "spot") as c:
        price, qty = await resting_buy(sim, c, "binance", "spot")
        info = await c.symbol_info(SYMBOL)
        old = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="rp-old")
        lower = price - info.tick_size
        new = await c.amend(
            SYMBOL, client_order_id="rp-old", price=lower, replacement_client_order_id="rp-new"
        )
        assert (new.client_order_id, new.status, new.price, new.qty) == (
            "rp-new",
            tw.OrderStatus.NEW,
            lower,
            qty,
        )
        assert new.order_id != old.order_id
        assert sim_order(sim, "binance", "spot", "rp-old").status == tw.OrderStatus.CANCELED
        assert truth(sim, "binance", "spot", "rp-new") == (new.order_id, tw.OrderStatus.NEW, lower, qty)
        assert (await c.order(SYMBOL, client_order_id="rp-old")).status == tw.OrderStatus.CANCELED
        assert writes(sim, "binance", "spot").get("POST /api/v3/order/cancelReplace") == 1
        await c.cancel(SYMBOL, client_order_id="rp-new")


async def _two_at_the_front(
    sim: Simulator, c: tw.Binance | tw.Bybit, venue: str, market: str
) -> tuple[Decimal, Decimal]:
    """A price one tick above the best bid (ours alone there) and a quantity."""
    info = await c.symbol_info(SYMBOL)
    bid, ask = sim.best(venue, market, SYMBOL)
    front = bid + info.tick_size
    assert front < ask, "the seeded book has a spread"
    _, qty = await resting_buy(sim, c, venue, market)
    return front, qty


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_queue_place_after_a_quantity_decrease_follows_the_venue(
    sim: Simulator, venue: str, market: str
) -> None:
    """Binance spot and Bybit keep the queue place of an order whose quantity only decreased;
    Binance USD-M queues every modified order again. Told by which of two orders at one price a
    sell then meets first."""
    async with trader(sim, venue, market) as c:
        front, qty = await _two_at_the_front(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty * 2, front, client_order_id="q-a")
        await c.place_limit(SYMBOL, "BUY", qty * 2, front, client_order_id="q-b")
        await c.amend(SYMBOL, client_order_id="q-a", qty=qty)
        await c.place_market(SYMBOL, "SELL", qty)
        a, b = sim_order(sim, venue, market, "q-a"), sim_order(sim, venue, market, "q-b")
        if (venue, market) == ("binance", "usdm"):
            assert (a.filled_qty, b.filled_qty) == (Decimal(0), qty), "the modified order went to the back"
        else:
            assert (a.filled_qty, b.filled_qty) == (qty, Decimal(0)), "the amended order kept its place"
            assert (await c.order(SYMBOL, client_order_id="q-a")).status == tw.OrderStatus.FILLED
        await c.cancel_all(SYMBOL)


@pytest.mark.parametrize(("venue", "market"), IN_PLACE)
async def test_an_amendment_to_a_crossing_price_trades_at_once(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        _, ask = sim.best(venue, market, SYMBOL)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="x-1")
        amended = await c.amend(SYMBOL, client_order_id="x-1", price=ask)
        if amended.status != tw.OrderStatus.FILLED:  # Bybit's answer is an ack; the fill follows
            amended = await c.order(SYMBOL, client_order_id="x-1")
        assert (amended.status, amended.filled_qty) == (tw.OrderStatus.FILLED, qty)
        assert sim_order(sim, venue, market, "x-1").status == tw.OrderStatus.FILLED


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_refused_amendments_leave_the_order_as_it_was(sim: Simulator, venue: str, market: str) -> None:
    """Local checks refuse before sending (rule named, nothing sent); the venue's refusals are
    typed; in every case the order at the venue is unchanged."""
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        placed = await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="rf-1")
        before = truth(sim, venue, market, "rf-1")
        v, m = sim.native_venue(venue), sim.native_market("spot" if venue == "bybit" else market)
        sent = sum(sim.native.rest_requests(v, m).values())
        local: list[tuple[str, dict[str, object]]] = [
            ("tick_size", {"price": price + info.tick_size / 2}),
            ("step_size", {"qty": qty - info.step_size / 2}),
            ("no_change", {"qty": qty, "price": price}),
        ]
        for rule, change in local:
            with pytest.raises(tw.InvalidOrder) as refused:
                await c.amend(SYMBOL, client_order_id="rf-1", **change)  # type: ignore[arg-type]
            assert refused.value.rule == rule, change
        with pytest.raises(tw.InvalidArgument):
            await c.amend(SYMBOL, client_order_id="rf-1")
        with pytest.raises(TypeError):
            await c.amend(SYMBOL, client_order_id="rf-1", qty=0.5)  # type: ignore[arg-type]
        assert sum(sim.native.rest_requests(v, m).values()) == sent, "nothing was sent"
        if venue != "binance" or market != "spot":
            # The venue's own refusal: more than the account can hold.
            quote = sum(b.free for b in (await c.balances()).values() if b.asset == "USDT")
            huge = (quote * 1000 / price) // info.step_size * info.step_size
            if info.max_qty is not None:
                huge = min(huge, info.max_qty)
            with pytest.raises(tw.InsufficientFunds):
                await c.amend(SYMBOL, client_order_id="rf-1", qty=huge)
        assert truth(sim, venue, market, "rf-1") == before
        assert (await c.order(SYMBOL, client_order_id="rf-1")).qty == qty
        await c.cancel(SYMBOL, order_id=placed.order_id)
        with pytest.raises(tw.OrderNotFound):
            await c.amend(SYMBOL, client_order_id="rf-1", qty=qty / 2)
        with pytest.raises(tw.OrderNotFound):
            await c.amend(SYMBOL, client_order_id="never-placed", qty=qty)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_an_amendment_not_above_the_filled_part_is_refused(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market) as c:
        front, qty = await _two_at_the_front(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty * 3, front, client_order_id="pf-1")
        await c.place_market(SYMBOL, "SELL", qty)
        await until(lambda: sim_order(sim, venue, market, "pf-1").filled_qty == qty, 5, "a partial fill")
        await c.order(SYMBOL, client_order_id="pf-1")
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.amend(SYMBOL, client_order_id="pf-1", qty=qty)
        assert refused.value.rule == "qty_not_above_filled"
        amended = await c.amend(SYMBOL, client_order_id="pf-1", qty=qty * 2)
        assert (amended.status, amended.filled_qty, amended.qty) == (
            tw.OrderStatus.PARTIALLY_FILLED,
            qty,
            qty * 2,
        )
        await c.cancel(SYMBOL, client_order_id="pf-1")


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_lost_amend_answer_is_resolved_by_lookup_not_resent(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-08 for amendments: the venue makes the change but its answer never comes; the
    connector looks the order up and returns the amended state; one amend reached the venue."""
    async with trader(sim, venue, market, timeout=0.5, recv_window_ms=1000) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        placed = await c.place_limit(SYMBOL, "BUY", qty * 2, price, client_order_id="lost-am")
        v, m = sim.native_venue(venue), sim.native_market(market)
        # Bybit serves both categories on one host, counted under spot.
        counted = sim.native_market("spot" if venue == "bybit" else market)
        before = sim.native.rest_requests(v, counted)
        sim.native.fail_rest(v, m, lose_write_answers=1)
        amended = await c.amend(SYMBOL, client_order_id="lost-am", qty=qty)
        assert (amended.order_id, amended.qty, amended.status) == (placed.order_id, qty, tw.OrderStatus.NEW)
        assert truth(sim, venue, market, "lost-am")[3] == qty
        after = sim.native.rest_requests(v, counted)
        writes = {k: after[k] - before.get(k, 0) for k in after if not k.startswith("GET")}
        assert sum(writes.values()) == 1, f"sent once: {writes}"
        await c.cancel(SYMBOL, client_order_id="lost-am")


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_duplicated_and_reordered_amendment_events_end_at_the_venue_state(
    sim: Simulator, venue: str, market: str
) -> None:
    """The user stream repeats and reorders the amendments' events: the order as read never
    goes back to an earlier revision, and ends equal to the venue's."""
    async with trader(sim, venue, market) as c:
        updates = c.order_updates()
        price, qty = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        await c.place_limit(SYMBOL, "BUY", qty * 4, price, client_order_id="ro-1")
        v, m = sim.native_venue(venue), sim.native_market(market)
        sim.native.fail_user_events(v, m, duplicate=2, reorder=2)
        sizes = [qty * 3, qty * 2, qty]
        for size in sizes:
            await c.amend(
                SYMBOL,
                client_order_id="ro-1",
                qty=size,
                price=price - info.tick_size if venue != "binance" or market != "spot" else None,
            )
        final = sim_order(sim, venue, market, "ro-1")
        seen: list[Decimal] = []
        async for u in updates:
            if u.order.client_order_id == "ro-1" and u.order.qty is not None:
                seen.append(u.order.qty)
            if seen and seen[-1] == qty:
                await asyncio.sleep(0.3)  # late repeats would come now
                break
        assert seen == sorted(seen, reverse=True), f"never back to an earlier revision: {seen}"
        held = await c.order(SYMBOL, client_order_id="ro-1")
        assert (held.qty, held.price, held.status) == (final.qty, final.price, final.status)
        updates.close()
        await c.cancel(SYMBOL, client_order_id="ro-1")


async def test_binance_spot_replace_partial_failure_and_cancel_failure(sim: Simulator) -> None:
    """A new order refused after the cancel went through raises, saying so; the old order's
    end and the new one's refusal are both known. A cancel that fails places nothing."""
    async with trader(sim, "binance", "spot") as c:
        updates = c.order_updates()
        price, qty = await resting_buy(sim, c, "binance", "spot")
        info = await c.symbol_info(SYMBOL)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="rpf-old")
        quote = sum(b.free for b in (await c.balances()).values() if b.asset == "USDT")
        huge = (quote * 10 / price) // info.step_size * info.step_size
        with pytest.raises(tw.InsufficientFunds) as refused:
            await c.replace(SYMBOL, huge, price, client_order_id="rpf-old", new_client_order_id="rpf-new")
        assert "canceled" in str(refused.value)
        assert sim_order(sim, "binance", "spot", "rpf-old").status == tw.OrderStatus.CANCELED
        assert [o for o in sim.orders("binance", "spot") if o.client_order_id == "rpf-new"] == []
        states: dict[str, tw.OrderStatus] = {}
        async for u in updates:
            states[u.order.client_order_id] = u.order.status
            if (
                states.get("rpf-old") == tw.OrderStatus.CANCELED
                and states.get("rpf-new") == tw.OrderStatus.REJECTED
            ):
                break
        updates.close()
        with pytest.raises(tw.OrderNotFound):
            await c.replace(SYMBOL, qty, price, client_order_id="rpf-old", new_client_order_id="rpf-2")
        assert [o for o in sim.orders("binance", "spot") if o.client_order_id == "rpf-2"] == []
        # An explicit side: the replacement may be a sell.
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="rpf-3")
        _, ask = sim.best("binance", "spot", SYMBOL)
        sell = await c.replace(SYMBOL, qty, ask + 10 * info.tick_size, client_order_id="rpf-3", side="SELL")
        assert (sell.side, sell.status) == (tw.Side.SELL, tw.OrderStatus.NEW)
        await c.cancel(SYMBOL, order_id=sell.order_id)


@pytest.mark.parametrize(("venue", "market"), IN_PLACE)
async def test_replace_where_the_venue_has_none_is_refused(sim: Simulator, venue: str, market: str) -> None:
    async with trader(sim, venue, market) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="nr-1")
        with pytest.raises(tw.InvalidArgument, match="amend"):
            await c.replace(SYMBOL, qty, price, client_order_id="nr-1")
        assert sim_order(sim, venue, market, "nr-1").status == tw.OrderStatus.NEW
        await c.cancel(SYMBOL, client_order_id="nr-1")

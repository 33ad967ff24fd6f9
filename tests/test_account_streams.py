"""Live order, balance and position updates over the venues' user streams (ORDR-06/09,
ACCT-02/04): every transition once, fills with their trade ids, funds and positions as the
simulator's ledger has them, and nothing missing after a lost connection or an expired key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import take, until
from .trading import (
    MARKETS,
    SYMBOL,
    ledger,
    resting_buy,
    sim_order,
    trader,
    user_links,
    user_stream_up,
    user_subscriptions,
)

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


async def updates_until(
    stream: tw.Stream[tw.OrderUpdate], done: Callable[[list[tw.OrderUpdate]], bool], within: float = 10.0
) -> list[tw.OrderUpdate]:
    """Collects updates until `done(updates)` holds."""
    seen: list[tw.OrderUpdate] = []
    async with asyncio.timeout(within):
        async for update in stream:
            seen.append(update)
            if done(seen):
                return seen
    return seen


def filled(updates: list[tw.OrderUpdate], client_id: str) -> Decimal:
    return sum((u.fill.qty for u in updates if u.fill and u.order.client_order_id == client_id), Decimal(0))


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_every_transition_and_fill_once(sim: Simulator, venue: str, market: str) -> None:
    """A resting order's NEW and CANCELED, and a market order's fills, each arrive exactly once
    (from the answer or the stream, whichever is first), with trade ids and fees."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="rest-1")
        await c.cancel(SYMBOL, client_order_id="rest-1")
        info = await c.symbol_info(SYMBOL)
        size = info.step_size * 1000
        market_order = await c.place_market(SYMBOL, "BUY", size, client_order_id="take-1")
        seen = await updates_until(updates, lambda s: filled(s, "take-1") == size)
        resting = [u.order.status for u in seen if u.order.client_order_id == "rest-1"]
        assert resting == [tw.OrderStatus.NEW, tw.OrderStatus.CANCELED]
        fills = [u.fill for u in seen if u.fill and u.order.client_order_id == "take-1"]
        assert len({f.trade_id for f in fills}) == len(fills), "no fill twice"
        assert all(f.fee_asset and f.price > 0 for f in fills)
        final = [u.order for u in seen if u.order.client_order_id == "take-1"][-1]
        assert (final.status, final.filled_qty) == (tw.OrderStatus.FILLED, size)
        assert final.order_id == market_order.order_id
        # Nothing more is pending: a late duplicate would show here.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await updates.recv()


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_balances_and_positions_follow_the_ledger(sim: Simulator, venue: str, market: str) -> None:
    """ACCT-02/04: funds come first as they are, then as they change; positions likewise."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        balances = c.balance_updates()
        await user_stream_up(sim, venue, market)
        truth = ledger(sim, venue, market)
        held = [a for a, (free, locked) in truth.items() if free + locked]
        first = [b for b in await take(balances, len(held)) if isinstance(b, tw.Balance)]
        assert sorted(b.asset for b in first) == sorted(held), "the current funds come first"
        for b in first:
            assert (b.free, b.locked) == truth[b.asset], b.asset
        info = await c.symbol_info(SYMBOL)
        size = info.step_size * 1000
        positions = c.position_updates() if market in ("usdm", "linear") else None
        await c.place_market(SYMBOL, "BUY", size)
        after = ledger(sim, venue, market)

        async def usdt_is_truth() -> None:
            async for b in balances:
                if b.asset == "USDT" and (b.free, b.locked) == after["USDT"]:
                    return

        async with asyncio.timeout(10):
            await usdt_is_truth()
        if positions is not None:
            async with asyncio.timeout(10):
                async for p in positions:
                    if p.symbol == SYMBOL and p.size == size:
                        assert p.side == tw.PositionSide.LONG
                        break
        else:
            with pytest.raises(tw.InvalidArgument):
                c.position_updates()


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_fills_missed_while_disconnected_are_recovered(sim: Simulator, venue: str, market: str) -> None:
    """The user connection is frozen while an order fills, then dropped: after the reconnect
    the reconciliation brings every missed fill, once."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        links = user_links(sim, venue, market)
        where = sim.native_market("spot" if venue == "bybit" else market)
        v = sim.native_venue(venue)
        for link in links:
            sim.native.freeze(v, where, True, connection=link)
        info = await c.symbol_info(SYMBOL)
        size = info.step_size * 1000
        await c.place_market(SYMBOL, "SELL", size, client_order_id="dark-1")
        for link in links:
            sim.native.drop_connections(v, where, connection=link)
        seen = await updates_until(updates, lambda s: filled(s, "dark-1") == size, within=15)
        fills = [u.fill for u in seen if u.fill and u.order.client_order_id == "dark-1"]
        assert len({f.trade_id for f in fills}) == len(fills)
        assert seen[-1].order.status == tw.OrderStatus.FILLED


def ws_api_refusals(sim: Simulator) -> list[int]:
    """When the venue refused a Binance spot WebSocket API request because of a ban."""
    spot = (sim.native_venue("binance"), sim.native_market("spot"))
    return [at for at, path in sim.native.ban_refusals(*spot) if path == "ws-api"]


async def test_a_ban_holds_the_websocket_api_user_stream_until_it_ends(sim: Simulator) -> None:
    """CONN-06 on Binance spot's user stream, which is on the WebSocket API and shares the IP's
    weight and ban with REST: a reconnect during a ban the client knows of waits for its end
    before connecting and subscribing (nothing refused); a ban it learns from the WebSocket
    API's own 418 bans the whole connector (`banned`), and the stream subscribes again once it
    is over, where before it stayed unsubscribed."""
    v, spot = sim.native_venue("binance"), sim.native_market("spot")
    async with trader(sim, "binance", "spot", reconcile_every=3600) as c:
        events = c.events()
        updates = c.order_updates()
        await user_stream_up(sim, "binance", "spot")

        # Known: a REST request is refused first, then the user connection drops.
        sim.native.force_ban(v, spot, 2_500)
        with pytest.raises(tw.Banned):
            await c.request("GET", "/api/v3/time")
        ends = c.health().banned_until_ms
        assert ends is not None
        for link in user_links(sim, "binance", "spot"):
            sim.native.drop_connections(v, spot, connection=link)
        await until(lambda: not user_subscriptions(sim, "binance", "spot"), 5, "the drop")
        await user_stream_up(sim, "binance", "spot")
        assert time.time() * 1000 >= ends - 50, "subscribed before the ban ended"
        assert ws_api_refusals(sim) == [], "nothing was sent on the WebSocket API while banned"

        # Unknown: the ban is first met by the reconnecting stream's subscription (the
        # reconciliation's REST reads after the reconnect are held unanswered, so they cannot
        # tell the client first).
        sim.native.fail_rest(v, spot, hang=2)
        sim.native.force_ban(v, spot, 2_500)
        told_before = time.time() * 1000
        for link in user_links(sim, "binance", "spot"):
            sim.native.drop_connections(v, spot, connection=link)
        await until(lambda: not user_subscriptions(sim, "binance", "spot"), 5, "the drop")
        async with asyncio.timeout(5):
            async for event in events:
                if event.kind == "banned" and int(event.fields["until_ms"]) > told_before:
                    break
        told = c.health().banned_until_ms
        assert told is not None and told > told_before
        await user_stream_up(sim, "binance", "spot")
        assert time.time() * 1000 >= told - 50, "subscribed again only after the ban"
        assert len(ws_api_refusals(sim)) == 1, "one refusal told the client; none after"

        # And the stream carries the account again.
        sim.native.fail_rest(v, spot)
        info = await c.symbol_info(SYMBOL)
        size = info.step_size * 1000
        await c.place_market(SYMBOL, "BUY", size, client_order_id="after-ban")
        seen = await updates_until(updates, lambda s: filled(s, "after-ban") == size)
        assert seen[-1].order.status == tw.OrderStatus.FILLED


async def test_expired_listen_key_is_replaced(sim: Simulator) -> None:
    """USD-M: `listenKeyExpired` → a new key is subscribed, and fills flow again."""
    async with trader(sim, "binance", "usdm", reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, "binance", "usdm")
        expired = user_subscriptions(sim, "binance", "usdm")
        sim.native.expire_listen_keys()
        await user_stream_up(sim, "binance", "usdm", besides=expired)
        info = await c.symbol_info(SYMBOL)
        size = info.step_size * 1000
        await c.place_market(SYMBOL, "BUY", size, client_order_id="after-expiry")
        seen = await updates_until(updates, lambda s: filled(s, "after-expiry") == size)
        assert seen[-1].order.status == tw.OrderStatus.FILLED


async def test_user_streams_need_keys(sim: Simulator) -> None:
    async with tw.Binance("spot", endpoints=sim.endpoints("binance", "spot")) as c:
        with pytest.raises(tw.InvalidArgument):
            c.order_updates()


def statuses(updates: list[tw.OrderUpdate], client_id: str) -> list[tw.OrderStatus]:
    return [u.order.status for u in updates if u.order.client_order_id == client_id]


@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("bybit", "linear")])
async def test_ended_orders_are_forgotten_after_keep_ended_orders_and_stay_queryable(
    sim: Simulator, venue: str, market: str
) -> None:
    """Issue 25: a long-lived connector does not hold every order of its life. An order that
    ended is forgotten ``keep_ended_orders`` after its end (at a reconciliation round); it is
    still answered by the venue, and its late repeats are not published again."""
    async with trader(sim, venue, market, reconcile_every=0.2, keep_ended_orders=0.5) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="kept-open")
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="ends-soon")
        await c.cancel(SYMBOL, client_order_id="ends-soon")
        seen = await updates_until(updates, lambda s: tw.OrderStatus.CANCELED in statuses(s, "ends-soon"))
        await until(lambda: c.health().orders_held == 1, 10, lambda: f"held {c.health().orders_held}")
        # Forgotten here, still the venue's: a query goes to it and says the same.
        again = await c.order(SYMBOL, client_order_id="ends-soon")
        assert again.status == tw.OrderStatus.CANCELED and again.client_order_id == "ends-soon"
        open_order = await c.order(SYMBOL, client_order_id="kept-open")
        assert open_order.status == tw.OrderStatus.NEW
        assert c.health().orders_held == 1
        # The query's answer was a repeat of an ended order: not published as a new one.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                seen.append(await updates.recv())
        assert statuses(seen, "ends-soon") == [tw.OrderStatus.NEW, tw.OrderStatus.CANCELED]
        await c.cancel(SYMBOL, client_order_id="kept-open")


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_unreadable_user_events_are_counted_and_the_account_read_again(
    sim: Simulator, venue: str, market: str
) -> None:
    """Issue 25: a user-stream message nobody can read (here: an order's events cut in half)
    is counted in ``health().skipped_user_messages``, and the account is read by REST at once,
    so the order's end still arrives, once, long before the periodic reconciliation."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="garbled")
        await updates_until(updates, lambda s: tw.OrderStatus.NEW in statuses(s, "garbled"))
        sim.native.fail_user_events(sim.native_venue(venue), sim.native_market(market), garble=2)
        # Canceled by a raw request, whose answer goes nowhere: only the (garbled) stream
        # would say so.
        if venue == "binance":
            path = "/api/v3/order" if market == "spot" else "/fapi/v1/order"
            await c.request("DELETE", path, {"symbol": SYMBOL, "origClientOrderId": "garbled"}, signed=True)
        else:
            params = {"category": market, "symbol": SYMBOL, "orderLinkId": "garbled"}
            await c.request("POST", "/v5/order/cancel", params, signed=True)
        seen = await updates_until(updates, lambda s: tw.OrderStatus.CANCELED in statuses(s, "garbled"))
        assert statuses(seen, "garbled") == [tw.OrderStatus.CANCELED]
        assert c.health().skipped_user_messages >= 1


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_duplicated_and_reordered_user_events_change_nothing(
    sim: Simulator, venue: str, market: str
) -> None:
    """ORDR-09: repeated and out-of-order events are dropped by the state machine: each
    transition and each fill still arrives once, in order, and the end state is the venue's."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        sim.native.fail_user_events(
            sim.native_venue(venue), sim.native_market(market), duplicate=4, reorder=3
        )
        price, qty = await resting_buy(sim, c, venue, market)
        await c.place_limit(SYMBOL, "BUY", qty, price, client_order_id="dup-rest")
        await c.cancel(SYMBOL, client_order_id="dup-rest")
        size = (await c.symbol_info(SYMBOL)).step_size * 1000
        await c.place_market(SYMBOL, "BUY", size, client_order_id="dup-take")
        seen = await updates_until(updates, lambda s: filled(s, "dup-take") == size)
        assert statuses(seen, "dup-rest") == [tw.OrderStatus.NEW, tw.OrderStatus.CANCELED]
        fills = [u.fill for u in seen if u.fill and u.order.client_order_id == "dup-take"]
        assert len({f.trade_id for f in fills}) == len(fills)
        taken = statuses(seen, "dup-take")
        assert taken[-1] == tw.OrderStatus.FILLED
        _, repeats, stale = c.health().order_reports
        assert repeats + stale > 0, "the repeats were seen and counted"
        assert taken.index(tw.OrderStatus.FILLED) == len(taken) - 1 or all(
            s == tw.OrderStatus.FILLED for s in taken[taken.index(tw.OrderStatus.FILLED) :]
        ), f"nothing after FILLED but its own fills: {taken}"
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await updates.recv()


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_dropped_user_events_are_recovered_by_reconciliation(
    sim: Simulator, venue: str, market: str
) -> None:
    """Events the venue never delivers (no sequence tells) are found by the periodic REST
    reconciliation: every fill of the order arrives, once."""
    async with trader(sim, venue, market, reconcile_every=1.0) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        sim.native.fail_user_events(sim.native_venue(venue), sim.native_market(market), drop=1000)
        size = (await c.symbol_info(SYMBOL)).step_size * 1000
        await c.place_market(SYMBOL, "SELL", size, client_order_id="lost-events")
        seen = await updates_until(updates, lambda s: filled(s, "lost-events") == size, within=15)
        fills = [u.fill for u in seen if u.fill and u.order.client_order_id == "lost-events"]
        assert len({f.trade_id for f in fills}) == len(fills)
        sim.native.fail_user_events(sim.native_venue(venue), sim.native_market(market))


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_partially_filled_then_canceled(sim: Simulator, venue: str, market: str) -> None:
    """A buy at the best ask for more than the level holds fills that level, rests the rest,
    and is canceled: PARTIALLY_FILLED, then the venue's canceled status, filled = the fills."""
    async with trader(sim, venue, market, reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, venue, market)
        info = await c.symbol_info(SYMBOL)
        _, _, asks = sim.book(venue, market, SYMBOL, 1)
        level = asks[0]
        order = await c.place_limit(
            SYMBOL, "BUY", level.qty + info.step_size * 10, level.price, client_order_id="part-1"
        )
        assert order.status == tw.OrderStatus.PARTIALLY_FILLED
        assert order.filled_qty == level.qty
        canceled = await c.cancel(SYMBOL, client_order_id="part-1")
        ended = {tw.OrderStatus.CANCELED, tw.OrderStatus.PARTIALLY_FILLED_CANCELED}
        assert canceled.status in ended
        assert canceled.filled_qty == level.qty
        seen = await updates_until(
            updates, lambda s: filled(s, "part-1") == level.qty and statuses(s, "part-1")[-1] in ended
        )
        assert tw.OrderStatus.PARTIALLY_FILLED in statuses(seen, "part-1")
        # The simulator keeps one neutral status; Bybit spot names it PartiallyFilledCanceled.
        truth = sim_order(sim, venue, market, "part-1")
        assert (truth.status, truth.filled_qty) == (tw.OrderStatus.CANCELED, canceled.filled_qty)


async def test_listen_key_that_expired_while_disconnected_is_replaced(sim: Simulator) -> None:
    """USD-M: the key lapses while the user connection is down; the reconnect's subscription
    of the stale key is refused, and a fresh key is subscribed so fills flow again."""
    async with trader(sim, "binance", "usdm", reconcile_every=3600) as c:
        updates = c.order_updates()
        await user_stream_up(sim, "binance", "usdm")
        expired = user_subscriptions(sim, "binance", "usdm")
        v, m = sim.native_venue("binance"), sim.native_market("usdm")
        links = user_links(sim, "binance", "usdm")
        for link in links:
            sim.native.freeze(v, m, True, connection=link)  # it cannot hear listenKeyExpired
        sim.native.expire_listen_keys()
        for link in links:
            sim.native.drop_connections(v, m, connection=link)
        await until(lambda: bool(set(user_links(sim, "binance", "usdm")) - set(links)), 10, "a reconnect")
        await user_stream_up(sim, "binance", "usdm", besides=expired)  # refused, then a new key
        size = (await c.symbol_info(SYMBOL)).step_size * 1000
        await c.place_market(SYMBOL, "BUY", size, client_order_id="fresh-key")
        seen = await updates_until(updates, lambda s: filled(s, "fresh-key") == size)
        assert seen[-1].order.status == tw.OrderStatus.FILLED


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_the_user_stream_connection_is_in_health_and_its_events_name_it(
    sim: Simulator, venue: str, market: str
) -> None:
    endpoints = sim.endpoints(venue, market)
    user_url = endpoints.ws_api if (venue, market) == ("binance", "spot") else endpoints.ws_private
    assert user_url is not None
    async with trader(sim, venue, market) as c:
        events = c.events()
        async with c.order_updates():
            await user_stream_up(sim, venue, market)
            async with asyncio.timeout(10):
                async for event in events:
                    if event.kind == "connected" and event.fields["url"].startswith(user_url):
                        break
            users = [h for h in c.health().connections if h.url.startswith(user_url)]
            assert len(users) == 1 and users[0].connected, c.health().connections
            # A USD-M listen key is as good as a credential: never shown.
            assert users[0].topics == ("user stream",)

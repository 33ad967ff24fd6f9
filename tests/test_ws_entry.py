"""WebSocket order entry over loopback (issue 21 item 4): place, amend and cancel over Binance's
WebSocket API (spot ``ws-api/v3``, USD-M ``ws-fapi/v1``) and Bybit's trade WebSocket
(``/v5/trade``), with the same checks, state machine and errors as REST; ``transport`` choosing
the path; a lost answer resolved by client id, never resent; the session re-established after
it drops; Ed25519 keys logging the Binance session in once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until
from .trading import MARKETS, SYMBOL, resting_buy, sim_order, trader

pytestmark = pytest.mark.asyncio

#: The REST path each market's place, cancel and amend are written to (the simulator counts a
#: WebSocket request as ``WS <METHOD> <path>`` of the endpoint it mirrors).
PLACE = {
    ("binance", "spot"): "POST /api/v3/order",
    ("binance", "usdm"): "POST /fapi/v1/order",
    ("bybit", "spot"): "POST /v5/order/create",
    ("bybit", "linear"): "POST /v5/order/create",
}
CANCEL = {
    ("binance", "spot"): "DELETE /api/v3/order",
    ("binance", "usdm"): "DELETE /fapi/v1/order",
    ("bybit", "spot"): "POST /v5/order/cancel",
    ("bybit", "linear"): "POST /v5/order/cancel",
}
#: An in-place price amend: USD-M modify and Bybit amend; Binance spot replaces atomically.
AMEND = {
    ("binance", "spot"): "POST /api/v3/order/cancelReplace",
    ("binance", "usdm"): "PUT /fapi/v1/order",
    ("bybit", "spot"): "POST /v5/order/amend",
    ("bybit", "linear"): "POST /v5/order/amend",
}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


def calls(sim: Simulator, venue: str, market: str) -> dict[str, int]:
    # Bybit's one host counts both categories under spot.
    counted = "spot" if venue == "bybit" else market
    return dict(sim.native.rest_requests(sim.native_venue(venue), sim.native_market(counted)))


def session(c: tw.Binance | tw.Bybit) -> tw.OrderEntryHealth:
    entry = c.health().order_entry
    assert entry is not None, "an order-entry session is open"
    return entry


async def up(c: tw.Binance | tw.Bybit) -> None:
    await until(lambda: session(c).up, 10, "the order-entry session up")


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_writes_go_over_the_session_and_match_the_venue(
    sim: Simulator, venue: str, market: str
) -> None:
    """Place, amend and cancel with ``transport="ws"``: each goes over the WebSocket session
    (none over REST), and the orders read back equal the venue's record."""
    async with trader(sim, venue, market, transport="ws") as c:
        price, qty = await resting_buy(sim, c, venue, market)
        tick = (await c.symbol_info(SYMBOL)).tick_size
        before = calls(sim, venue, market)
        placed = await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="ws-1")
        assert (placed.status, placed.price, placed.qty) == (tw.OrderStatus.NEW, price, qty)
        assert placed.order_id == sim_order(sim, venue, market, "ws-1").order_id
        amended = await c.amend(
            SYMBOL, client_order_id="ws-1", price=price - tick, replacement_client_order_id="ws-2"
        )
        assert (amended.status, amended.price) == (tw.OrderStatus.NEW, price - tick)
        truth = sim_order(sim, venue, market, amended.client_order_id)
        assert (truth.status, truth.price, truth.qty) == (tw.OrderStatus.NEW, price - tick, qty)
        canceled = await c.cancel(SYMBOL, client_order_id=amended.client_order_id)
        assert canceled.status == tw.OrderStatus.CANCELED
        assert sim_order(sim, venue, market, amended.client_order_id).status == tw.OrderStatus.CANCELED

        after = calls(sim, venue, market)
        key = (venue, market)
        for path in (PLACE[key], AMEND[key], CANCEL[key]):
            assert after.get(path, 0) == before.get(path, 0), f"{path} went by REST"
            assert after.get(f"WS {path}", 0) == before.get(f"WS {path}", 0) + 1, path
        entry = session(c)
        assert (entry.sent, entry.answered, entry.lost) == (3, 3, 0)
        assert entry.url == sim.endpoints(venue, market).ws_api


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_rest_transport_opens_no_session(sim: Simulator, venue: str, market: str) -> None:
    async with trader(sim, venue, market, transport="rest") as c:
        assert c.health().order_entry is None
        price, qty = await resting_buy(sim, c, venue, market)
        before = calls(sim, venue, market)
        order = await c.place_limit(SYMBOL, "buy", qty, price)
        assert order.status == tw.OrderStatus.NEW
        path = PLACE[(venue, market)]
        assert calls(sim, venue, market).get(path, 0) == before.get(path, 0) + 1


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_auto_takes_the_session_once_up_and_rest_without_one(
    sim: Simulator, venue: str, market: str
) -> None:
    """``auto``: the session while it is up; with no session to be had (its URL dead), REST."""
    async with trader(sim, venue, market) as c:
        await up(c)
        price, qty = await resting_buy(sim, c, venue, market)
        before = calls(sim, venue, market)
        await c.place_limit(SYMBOL, "buy", qty, price)
        path = PLACE[(venue, market)]
        assert calls(sim, venue, market).get(f"WS {path}", 0) == before.get(f"WS {path}", 0) + 1
    dead = sim.endpoints(venue, market)
    dead = tw.Endpoints(dead.rest, dead.ws_public, dead.ws_market, dead.ws_private, "ws://127.0.0.1:9/none")
    async with trader(sim, venue, market, endpoints=dead) as c:
        before = calls(sim, venue, market)
        order = await c.place_limit(SYMBOL, "buy", qty, price)
        assert order.status == tw.OrderStatus.NEW
        assert calls(sim, venue, market).get(path, 0) == before.get(path, 0) + 1
        assert not session(c).up


@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("bybit", "linear")])
async def test_ws_transport_without_a_session_sends_nothing(sim: Simulator, venue: str, market: str) -> None:
    """``ws`` with the session down: NotConnected once the connector's timeout passes, nothing
    reaches the venue, and the order is REJECTED locally (not UNKNOWN, not looked up)."""
    e = sim.endpoints(venue, market)
    dead = tw.Endpoints(e.rest, e.ws_public, e.ws_market, e.ws_private, "ws://127.0.0.1:9/none")
    async with trader(sim, venue, market, endpoints=dead, transport="ws", timeout=0.5) as c:
        price, qty = await resting_buy(sim, c, venue, market)
        before = calls(sim, venue, market)
        with pytest.raises(tw.NotConnected, match="nothing was sent"):
            await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="never-1")
        assert [o for o in sim.orders(venue, market) if o.client_order_id == "never-1"] == []
        assert calls(sim, venue, market) == before


async def test_ws_transport_needs_keys_and_an_endpoint(sim: Simulator) -> None:
    e = sim.endpoints("bybit", "linear")
    with pytest.raises(tw.InvalidArgument, match="needs api_key"):
        async with tw.Bybit("linear", endpoints=e, transport="ws"):
            pass
    keys = sim.account("bybit")
    bare = tw.Endpoints(e.rest, e.ws_public, e.ws_market, e.ws_private, None)
    with pytest.raises(tw.InvalidArgument, match="ws_api"):
        async with tw.Bybit(
            "linear", endpoints=bare, api_key=keys.api_key, api_secret=keys.api_secret, transport="ws"
        ):
            pass
    with pytest.raises(tw.InvalidArgument, match="transport"):
        tw.Bybit("linear", transport="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_lost_answer_is_looked_up_never_resent(sim: Simulator, venue: str, market: str) -> None:
    """The venue places the order, then the session's connection dies before the answer: the
    order is found by its client id (once at the venue), and the session comes back for the
    next write."""
    async with trader(sim, venue, market, transport="ws", recv_window_ms=1000) as c:
        await up(c)
        price, qty = await resting_buy(sim, c, venue, market)
        counted = "spot" if venue == "bybit" else market
        sim.native.fail_rest(sim.native_venue(venue), sim.native_market(counted), lose_write_answers=1)
        order = await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="lost-ws")
        assert order.status == tw.OrderStatus.NEW
        assert order.order_id == sim_order(sim, venue, market, "lost-ws").order_id
        entry = session(c)
        assert entry.lost == 1
        await until(lambda: session(c).up and session(c).reconnects >= 1, 10, "the session back")
        canceled = await c.cancel(SYMBOL, client_order_id="lost-ws")
        assert canceled.status == tw.OrderStatus.CANCELED
        assert session(c).answered >= 1


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_the_session_comes_back_after_the_venue_drops_it(
    sim: Simulator, venue: str, market: str
) -> None:
    async with trader(sim, venue, market, transport="ws") as c:
        await up(c)
        counted = "spot" if venue == "bybit" else market
        sim.native.drop_connections(sim.native_venue(venue), sim.native_market(counted))
        await until(lambda: session(c).reconnects >= 1 and session(c).up, 10, "the session back")
        price, qty = await resting_buy(sim, c, venue, market)
        order = await c.place_limit(SYMBOL, "buy", qty, price)
        assert order.status == tw.OrderStatus.NEW
        assert session(c).lost == 0


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_venue_refusals_are_typed_as_over_rest(sim: Simulator, venue: str, market: str) -> None:
    """A cancel of an order the venue does not know is OrderNotFound; a buy beyond the account's
    funds is InsufficientFunds — the REST errors, from the WebSocket answers."""
    async with trader(sim, venue, market, transport="ws") as c:
        with pytest.raises(tw.OrderNotFound):
            await c.cancel(SYMBOL, client_order_id="nobody-here")
        price, _ = await resting_buy(sim, c, venue, market)
        info = await c.symbol_info(SYMBOL)
        huge = (Decimal(10**9) / price).quantize(info.step_size)
        if info.max_qty is not None:
            huge = min(huge, info.max_qty)
        with pytest.raises(tw.InvalidOrder) as refused:
            await c.place_limit(SYMBOL, "buy", huge, price, client_order_id="too-big")
        assert refused.value.venue == venue
        assert [o for o in sim.orders(venue, market) if o.client_order_id == "too-big"] == []
        assert session(c).answered >= 2


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_an_ed25519_key_logs_the_binance_session_in_once(sim: Simulator, market: str) -> None:
    """Ed25519 keys: ``session.logon`` at connect, then requests without a signature (the
    simulator refuses an unsigned request on a session that is not logged in)."""
    keys = sim.account("binance", "ed25519")
    async with tw.Binance(
        market,  # type: ignore[arg-type]
        endpoints=sim.endpoints("binance", market),
        api_key=keys.api_key,
        api_secret=keys.api_secret,
        transport="ws",
    ) as c:
        await up(c)
        price, qty = await resting_buy(sim, c, "binance", market)
        order = await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="ed-1")
        assert order.order_id == sim_order(sim, "binance", market, "ed-1").order_id
        assert (await c.cancel(SYMBOL, client_order_id="ed-1")).status == tw.OrderStatus.CANCELED


async def test_a_refused_login_is_shown_and_auto_uses_rest(sim: Simulator) -> None:
    """Bybit refuses the session's login (a wrong secret): health shows the venue's words, the
    session stays down, and ``auto`` writes go by REST (refused there for the same keys)."""
    keys = sim.account("bybit")
    async with tw.Bybit(
        "linear",
        endpoints=sim.endpoints("bybit", "linear"),
        api_key=keys.api_key,
        api_secret="wrong-secret",
    ) as c:
        await until(lambda: session(c).refused is not None, 10, "the login refused")
        assert "sign" in (session(c).refused or "").lower()
        assert not session(c).up
        with pytest.raises(tw.AuthError):
            await c.place_limit(SYMBOL, "buy", Decimal("0.01"), Decimal(50000))


async def test_writes_in_flight_together_each_get_their_own_answer(sim: Simulator) -> None:
    """Twenty places at once on one session: each answer reaches its own caller."""
    async with trader(sim, "binance", "usdm", transport="ws") as c:
        price, qty = await resting_buy(sim, c, "binance", "usdm")
        tick = (await c.symbol_info(SYMBOL)).tick_size
        orders = await asyncio.gather(
            *(
                c.place_limit(SYMBOL, "buy", qty, price - k * tick, client_order_id=f"many-{k}")
                for k in range(20)
            )
        )
        for k, order in enumerate(orders):
            assert (order.client_order_id, order.price) == (f"many-{k}", price - k * tick)
            assert order.order_id == sim_order(sim, "binance", "usdm", f"many-{k}").order_id
        assert session(c).answered == 20


@pytest.mark.parametrize("market", ["spot", "usdm"])
async def test_a_shutdown_notice_moves_the_session_without_losing_a_write(
    sim: Simulator, market: str
) -> None:
    """Binance's ``serverShutdown``: the session stops taking writes on the old connection,
    lets those in flight be answered and opens a fresh one, before the venue closes the old;
    writes sent meanwhile wait for it (``ws``) and none is lost."""
    v, m = sim.native_venue("binance"), sim.native_market(market)

    def entry_links() -> set[int]:
        return {x.id for x in sim.connections("binance", market) if x.kind == "api" and not x.streams}

    async with trader(sim, "binance", market, transport="ws") as c:
        await up(c)
        first = entry_links()
        price, qty = await resting_buy(sim, c, "binance", market)
        tick = (await c.symbol_info(SYMBOL)).tick_size
        sim.native.shutdown_notice(v, m, 5.0)
        orders = []
        for k in range(10):
            orders.append(
                await c.place_limit(SYMBOL, "buy", qty, price - k * tick, client_order_id=f"sd-{k}")
            )
            await asyncio.sleep(0.02)
        for order in orders:
            assert order.status == tw.OrderStatus.NEW
            assert order.order_id == sim_order(sim, "binance", market, order.client_order_id).order_id
        await until(lambda: bool(entry_links()) and not entry_links() & first, 5, "a fresh connection only")
        entry = session(c)
        assert (entry.up, entry.lost, entry.answered) == (True, 0, 10)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_lost_amend_and_cancel_answers_are_looked_up(sim: Simulator, venue: str, market: str) -> None:
    """The venue amends (USD-M modify, Bybit amend, Binance spot's cancel-replace) and cancels,
    each time losing the answer with the connection: the order's state is read back by REST, the
    venue holds each change once."""
    counted = "spot" if venue == "bybit" else market
    v, m = sim.native_venue(venue), sim.native_market(counted)
    async with trader(sim, venue, market, transport="ws", recv_window_ms=1000) as c:
        await up(c)
        price, qty = await resting_buy(sim, c, venue, market)
        tick = (await c.symbol_info(SYMBOL)).tick_size
        await c.place_limit(SYMBOL, "buy", qty, price, client_order_id="la-1")
        sim.native.fail_rest(v, m, lose_write_answers=1)
        try:
            amended = await c.amend(
                SYMBOL, client_order_id="la-1", price=price - tick, replacement_client_order_id="la-2"
            )
        except tw.ConnectionLost:
            # The lookup could not tell in time; the order's own state does, by REST.
            amended = await c.order(
                SYMBOL, client_order_id="la-2" if (venue, market) == ("binance", "spot") else "la-1"
            )
        assert (amended.status, amended.price) == (tw.OrderStatus.NEW, price - tick)
        assert sim_order(sim, venue, market, amended.client_order_id).price == price - tick
        await until(lambda: session(c).up, 10, "the session back")
        sim.native.fail_rest(v, m, lose_write_answers=1)
        try:
            canceled = await c.cancel(SYMBOL, client_order_id=amended.client_order_id)
        except tw.ConnectionLost:
            canceled = await c.order(SYMBOL, client_order_id=amended.client_order_id)
        assert canceled.status == tw.OrderStatus.CANCELED
        assert sim_order(sim, venue, market, amended.client_order_id).status == tw.OrderStatus.CANCELED
        assert session(c).lost == 2


#: How each market's batch place goes: over the session (Binance spot's concurrent single places,
#: Bybit's `order.create-batch`) or by REST (USD-M `batchOrders` has no WebSocket method).
BATCH = {
    ("binance", "spot"): ("WS POST /api/v3/order", 3),
    ("binance", "usdm"): ("POST /fapi/v1/batchOrders", 1),
    ("bybit", "spot"): ("WS POST /v5/order/create-batch", 1),
    ("bybit", "linear"): ("WS POST /v5/order/create-batch", 1),
}


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_batches_take_the_session_where_it_has_them(sim: Simulator, venue: str, market: str) -> None:
    async with trader(sim, venue, market, transport="ws") as c:
        price, qty = await resting_buy(sim, c, venue, market)
        tick = (await c.symbol_info(SYMBOL)).tick_size
        path, requests = BATCH[(venue, market)]
        before = calls(sim, venue, market).get(path, 0)
        out = await c.place_batch(
            [tw.LimitOrder(SYMBOL, "BUY", qty, price - k * tick, client_order_id=f"wb-{k}") for k in range(3)]
        )
        assert [o.status for o in out if isinstance(o, tw.Order)] == [tw.OrderStatus.NEW] * 3, out
        assert calls(sim, venue, market).get(path, 0) == before + requests
        for k in range(3):
            assert sim_order(sim, venue, market, f"wb-{k}").price == price - k * tick
        canceled = await c.cancel_batch(SYMBOL, client_order_ids=[f"wb-{k}" for k in range(3)])
        assert [o.status for o in canceled if isinstance(o, tw.Order)] == [tw.OrderStatus.CANCELED] * 3, (
            canceled
        )

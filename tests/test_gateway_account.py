"""The gateway's account side on NATS JetStream (issue 23): a remote process trades through
the gateway's one connector and follows the account from the stream the gateway stores,
against a real `nats-server` and the simulator (ORDR-06/09, ACCT-02/04 across processes).

- every order update reaches a remote reader once, and its view equals the venue's ledger;
- a durable reader that stops and comes back gets exactly the updates it had not been handed;
- a place whose reply is lost is resolved by client order id, never sent twice; one that
  reached no gateway fails at once and places nothing;
- a market-data-only user is refused commands and account subjects (`PermissionDenied`).
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import until
from .nats import Nats, nats_server, once_served
from .trading import MARKETS, SYMBOL, Local, differences, resting_buy, trader

pytestmark = pytest.mark.asyncio


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(steps_per_second=0) as running:
        yield running


@pytest.fixture
def nats() -> Iterator[Nats]:
    # Its own server (and JetStream store) per test: a fresh simulator numbers its orders from
    # the start again, and the same change of "the same" order would be dropped as a repeat.
    with nats_server() as server:
        yield server


def remote(nats: Nats, label: str, user: str = "strategy", **options: float) -> tw.Remote:
    return tw.Remote(nats.url, label, **nats.credentials(user), **options)  # type: ignore[arg-type]


@asynccontextmanager
async def served(
    sim: Simulator, nats: Nats, venue: str, market: str, **options: object
) -> AsyncIterator[tuple[tw.Binance | tw.Bybit, tw.Gateway]]:
    """A keyed connector whose account a gateway serves."""
    gw = tw.Gateway(nats.url, **nats.credentials("gateway"))
    async with trader(sim, venue, market, **options) as c, gw:
        await gw.serve_account(c)
        yield c, gw


async def take(stream: tw.Stream[tw.OrderUpdate], n: int, within: float = 10.0) -> list[tw.OrderUpdate]:
    got: list[tw.OrderUpdate] = []
    async with asyncio.timeout(within):
        while len(got) < n:
            got.append(await stream.recv())
    return got


def key(u: tw.OrderUpdate) -> tuple[str, str, Decimal, str | None]:
    o = u.order
    return (o.client_order_id, o.status.value, o.filled_qty, u.fill.trade_id if u.fill else None)


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_remote_trades_through_the_gateway_and_sees_the_ledger(
    sim: Simulator, nats: Nats, venue: str, market: str
) -> None:
    async with served(sim, nats, venue, market) as (c, gw), remote(nats, c.label) as r:
        local = Local()
        followers = [
            asyncio.create_task(local.follow_orders(r.order_updates())),
            asyncio.create_task(local.follow_balances(r.balance_updates())),
        ]
        if market != "spot":
            followers.append(asyncio.create_task(local.follow_positions(r.position_updates())))
        await asyncio.sleep(0.3)  # the ordered consumers start from "now"
        price, qty = await resting_buy(sim, c, venue, market)
        placed = await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id="gw-rest-1")
        assert placed.status == tw.OrderStatus.NEW and placed.order_id, placed
        assert isinstance(placed.price, Decimal) and placed.price == price
        assert [o.client_order_id for o in await r.open_orders(SYMBOL)] == ["gw-rest-1"]
        assert (await r.order(SYMBOL, client_order_id="gw-rest-1")).order_id == placed.order_id
        canceled = await r.cancel(SYMBOL, client_order_id="gw-rest-1")
        assert canceled.status == tw.OrderStatus.CANCELED
        bought = await r.place_market(SYMBOL, "BUY", qty, client_order_id="gw-mkt-1")
        assert bought.client_order_id == "gw-mkt-1"
        await until(
            lambda: "gw-mkt-1" in local.orders and local.orders["gw-mkt-1"].status == tw.OrderStatus.FILLED,
            10,
            "the market order's fill through the account stream",
        )
        await until(
            lambda: not differences(sim, venue, market, local), 10, "the remote view equals the ledger"
        )
        assert local.repeated == [], "no fill twice"
        assert (await r.balances()).keys() == (await c.balances()).keys()
        if market != "spot":
            assert (await r.positions(SYMBOL))[SYMBOL].size == (await c.positions(SYMBOL))[SYMBOL].size
        assert (await r.served())["account"] is True
        for t in followers:
            t.cancel()
        # Bad input gets the connector's typed errors, through the gateway.
        with pytest.raises(tw.InvalidOrder):
            await r.place_limit(SYMBOL, "BUY", qty, price + Decimal("0.0000001"))
        with pytest.raises(tw.InvalidArgument):
            await r.place_limit("NOPEUSDT", "BUY", qty, price)
        with pytest.raises(tw.OrderNotFound):
            await r.cancel(SYMBOL, client_order_id="never-placed")
        assert gw.stats()["publish_errors"] == 0


async def test_a_durable_reader_resumes_where_it_stopped(sim: Simulator, nats: Nats) -> None:
    """It reads some updates and stops; orders go on; under the same name it gets exactly the
    updates after the last one it was handed (compared with a reader that never stopped)."""
    async with served(sim, nats, "binance", "spot") as (c, _), remote(nats, c.label) as r:
        everything = r.order_updates()
        first = r.order_updates(durable="risk")
        await asyncio.sleep(0.3)
        price, qty = await resting_buy(sim, c, "binance", "spot")
        for i in range(4):
            await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id=f"dur-{i}")
        handed = await take(first, 3)
        await first.aclose()
        for i in range(4):
            await r.cancel(SYMBOL, client_order_id=f"dur-{i}")
        for i in range(4, 6):
            await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id=f"dur-{i}")
        all_updates: list[tw.OrderUpdate] = []
        async with asyncio.timeout(10):
            while not any(u.order.client_order_id == "dur-5" for u in all_updates):
                all_updates.append(await everything.recv())
        assert [key(u) for u in all_updates[:3]] == [key(u) for u in handed]
    async with remote(nats, "binance-spot") as again:
        resumed = again.order_updates(durable="risk")
        rest = await take(resumed, len(all_updates) - 3)
        assert [key(u) for u in rest] == [key(u) for u in all_updates[3:]], "nothing lost, nothing twice"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(resumed.recv(), 0.5)


async def test_a_lost_reply_is_resolved_by_client_id_not_resent(sim: Simulator, nats: Nats) -> None:
    async with (
        served(sim, nats, "binance", "spot", timeout=2.0) as (c, _),
        remote(nats, c.label, command_timeout=0.5) as r,
    ):
        price, qty = await resting_buy(sim, c, "binance", "spot")
        # The venue takes the order and its answer is lost: the gateway's connector looks it up
        # while the remote's wait for the reply runs out; the remote asks what became of it.
        sim.native.fail_rest(sim.native_venue("binance"), sim.native_market("spot"), lose_write_answers=1)
        order = await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id="lost-1")
        assert order.status == tw.OrderStatus.NEW and order.order_id, order
        assert sum(o.client_order_id == "lost-1" for o in sim.orders("binance", "spot")) == 1, "placed once"
        # The same id again is the same order, not a second one.
        again = await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id="lost-1")
        assert again.order_id == order.order_id
        assert sum(o.client_order_id == "lost-1" for o in sim.orders("binance", "spot")) == 1


@pytest.mark.parametrize(("venue", "market"), [("binance", "spot"), ("bybit", "linear")])
async def test_a_remote_amends_and_replaces_through_the_gateway(
    sim: Simulator, nats: Nats, venue: str, market: str
) -> None:
    """Issue 21 through the gateway: an amendment in place, a replacement (Binance spot) that
    is answered once per new client id, and typed refusals, as from a local connector."""
    async with served(sim, nats, venue, market) as (c, _), remote(nats, c.label) as r:
        updates = r.order_updates()
        price, qty = await resting_buy(sim, c, venue, market)
        info = await r.symbol_info(SYMBOL)
        placed = await r.place_limit(SYMBOL, "BUY", qty * 2, price, client_order_id="gw-am")
        amended = await r.amend(SYMBOL, client_order_id="gw-am", qty=qty)
        assert (amended.order_id, amended.qty) == (placed.order_id, qty)
        # The stored account stream carries the amendment (same status and filled, new qty).
        async with asyncio.timeout(10):
            async for u in updates:
                if u.order.client_order_id == "gw-am" and u.order.qty == qty:
                    break
        updates.close()
        with pytest.raises(tw.InvalidOrder) as refused:
            await r.amend(SYMBOL, client_order_id="gw-am", price=price + info.tick_size / 2)
        assert refused.value.rule == "tick_size"
        if venue == "binance":
            new = await r.replace(
                SYMBOL, qty, price - info.tick_size, client_order_id="gw-am", new_client_order_id="gw-rp"
            )
            assert (new.client_order_id, new.price, new.side) == (
                "gw-rp",
                price - info.tick_size,
                tw.Side.BUY,
            )
            assert [o.status for o in sim.orders(venue, market) if o.client_order_id == "gw-am"] == [
                tw.OrderStatus.CANCELED
            ]
            again = await r.replace(SYMBOL, qty, price, client_order_id="gw-am", new_client_order_id="gw-rp")
            assert again.order_id == new.order_id, "the same new id is answered once"
            await r.cancel(SYMBOL, client_order_id="gw-rp")
        else:
            with pytest.raises(tw.InvalidArgument):
                await r.replace(SYMBOL, qty, price, client_order_id="gw-am")
            await r.cancel(SYMBOL, client_order_id="gw-am")


@pytest.mark.parametrize(("venue", "market"), [("binance", "usdm"), ("bybit", "linear")])
async def test_a_remote_trades_hedge_legs_through_the_gateway(
    sim: Simulator, nats: Nats, venue: str, market: str
) -> None:
    """Hedge mode through the gateway: the leg travels with the place, and orders and
    positions come back naming it."""
    async with served(sim, nats, venue, market) as (c, _), remote(nats, c.label) as r:
        await c.set_position_mode("HEDGE", None if venue == "binance" else SYMBOL)
        q = (await r.symbol_info(SYMBOL)).step_size * 1000
        opened = await r.place_market(SYMBOL, "BUY", q * 2, position_side="LONG")
        closed = await r.place_market(SYMBOL, "SELL", q, position_side="LONG")
        assert (opened.position_side, opened.reduce_only) == (tw.PositionSide.LONG, False)
        assert (closed.position_side, closed.reduce_only) == (tw.PositionSide.LONG, True)
        with pytest.raises(tw.InvalidOrder) as refused:
            await r.place_market(SYMBOL, "BUY", q, position_side="SHORT")
        assert refused.value.rule == "reduce_only"
        await r.place_market(SYMBOL, "SELL", q * 3, position_side="SHORT")
        legs = await r.positions(SYMBOL)
        truth = sim.positions(venue, market)
        assert (legs[f"{SYMBOL}-LONG"].size, legs[f"{SYMBOL}-SHORT"].size) == (q, q * 3)
        assert (truth[f"{SYMBOL}-LONG"].size, truth[f"{SYMBOL}-SHORT"].size) == (q, q * 3)
        # The stored stream keeps each leg's latest under its own subject: a new reader gets both.
        seen: dict[str, tw.Position] = {}
        async with asyncio.timeout(10):
            async for p in r.position_updates():
                seen[p.key] = p
                if (
                    seen.get(f"{SYMBOL}-LONG", p).size == q
                    and seen.get(f"{SYMBOL}-SHORT", p).size == q * 3
                    and len(seen) == 2
                ):
                    break
        assert seen[f"{SYMBOL}-SHORT"].position_side == tw.PositionSide.SHORT


async def test_a_remote_places_conditional_orders_through_the_gateway(sim: Simulator, nats: Nats) -> None:
    """The trigger travels with the place; the order comes back UNTRIGGERED naming it, and
    fires and fills as one order."""
    async with served(sim, nats, "bybit", "linear") as (c, _), remote(nats, c.label) as r:
        q = (await r.symbol_info(SYMBOL)).step_size * 1000
        _, ask = sim.best("bybit", "linear", SYMBOL)
        stop = await r.place_stop(SYMBOL, "BUY", q, ask, trigger_by="MARK", client_order_id="gw-stop")
        assert (stop.status, stop.trigger_price, stop.trigger_kind, stop.trigger_by) == (
            tw.OrderStatus.UNTRIGGERED,
            ask,
            tw.TriggerKind.STOP,
            tw.TriggerBy.MARK,
        )
        await r.place_market(SYMBOL, "BUY", q)  # the venue fires the trigger as the trade happens
        done = await r.order(SYMBOL, client_order_id="gw-stop")
        assert (done.status, done.order_id, done.trigger_price) == (tw.OrderStatus.FILLED, stop.order_id, ask)


async def test_a_remote_places_a_trailing_stop_through_the_gateway(sim: Simulator, nats: Nats) -> None:
    """A trailing stop's callback rate and activation price travel with the place and come back
    on the order."""
    async with served(sim, nats, "binance", "usdm") as (c, _), remote(nats, c.label) as r:
        q = (await r.symbol_info(SYMBOL)).step_size * 1000
        _, ask = sim.best("binance", "usdm", SYMBOL)
        ts = await r.place_trailing_stop(
            SYMBOL, "SELL", q, "2.5", activation_price=ask + 100, client_order_id="gw-trail"
        )
        assert (ts.status, ts.callback_rate, ts.trigger_price) == (
            tw.OrderStatus.UNTRIGGERED,
            Decimal("2.5"),
            ask + 100,
        )
        assert (await r.order(SYMBOL, client_order_id="gw-trail")).callback_rate == Decimal("2.5")


async def test_a_remote_attaches_exits_through_the_gateway(sim: Simulator, nats: Nats) -> None:
    """An entry's take-profit and stop-loss travel with the place; the exits the venue arms
    come back as orders naming their entry."""
    async with served(sim, nats, "bybit", "linear") as (c, _), remote(nats, c.label) as r:
        info = await r.symbol_info(SYMBOL)
        q, tick = info.step_size * 100, info.tick_size
        _, ask = sim.best("bybit", "linear", SYMBOL)
        tp = tw.Exit(ask + 300 * tick, price=ask + 290 * tick, trigger_by="MARK")
        entry = await r.place_market(SYMBOL, "BUY", q, take_profit=tp, stop_loss=ask - 300 * tick,
                                     client_order_id="gw-tpsl")  # fmt: skip
        assert (entry.take_profit, entry.stop_loss) == (tp, tw.Exit(ask - 300 * tick))
        # The market entry filled as it was placed: its exits are armed already.
        exits = [o for o in await r.open_orders(SYMBOL) if o.parent_client_order_id == "gw-tpsl"]
        assert {(o.trigger_kind, o.trigger_price, o.qty) for o in exits} == {
            (tw.TriggerKind.TAKE_PROFIT, ask + 300 * tick, q),
            (tw.TriggerKind.STOP, ask - 300 * tick, q),
        }


async def test_a_place_no_gateway_took_fails_at_once_and_places_nothing(sim: Simulator, nats: Nats) -> None:
    async with trader(sim, "binance", "spot") as c, remote(nats, c.label) as r:
        price, qty = await resting_buy(sim, c, "binance", "spot")
        with pytest.raises(tw.ConnectionLost, match="no gateway"):
            await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id="nobody-1")
        assert not [o for o in sim.orders("binance", "spot") if o.client_order_id == "nobody-1"]


async def test_a_market_data_user_cannot_trade_or_read_the_account(sim: Simulator, nats: Nats) -> None:
    async with served(sim, nats, "binance", "spot") as (c, _), remote(nats, c.label, "binance-only") as r:
        price, qty = await resting_buy(sim, c, "binance", "spot")
        with pytest.raises(tw.PermissionDenied, match="cmd"):
            await r.place_limit(SYMBOL, "BUY", qty, price)
        with pytest.raises(tw.PermissionDenied):
            async with asyncio.timeout(10):
                await r.order_updates().recv()
        assert not sim.orders("binance", "spot"), "nothing placed"


def gateway_config(sim: Simulator, nats: Nats, path: pathlib.Path, name: str) -> pathlib.Path:
    """A `tradewire gateway` config: Binance spot's account (keys from the simulator), in the
    standby group "main" under `name`."""
    e = sim.endpoints("binance", "spot")
    keys = sim.account("binance")
    endpoints = "".join(
        f'{field} = "{value}"\n'
        for field, value in (
            ("rest", e.rest),
            ("ws_public", e.ws_public),
            ("ws_market", e.ws_market),
            ("ws_private", e.ws_private),
            ("ws_api", e.ws_api),
        )
        if value is not None
    )
    password = nats.credentials("gateway")["password"]
    path.write_text(
        f'[nats]\nurl = "{nats.url}"\nuser = "gateway"\npassword = "{password}"\n\n'
        f'[gateway]\nstandby_group = "main"\nname = "{name}"\nlease_ttl = 2.0\n\n'
        '[[venue]]\nvenue = "binance"\nmarket = "spot"\nsymbols = ["BTCUSDT"]\nchannels = ["trades"]\n'
        f'account = true\napi_key = "{keys.api_key}"\napi_secret = "{keys.api_secret}"\n'
        f"[venue.endpoints]\n{endpoints}"
    )
    return path


async def test_a_standby_takes_over_when_the_active_gateway_is_killed(
    sim: Simulator, nats: Nats, tmp_path: pathlib.Path
) -> None:
    """Two gateways of one group: the first (a process) serves; it is killed with SIGKILL; the
    standby (this process) takes the lease within seconds, serves the account, and the remote
    hears `gateway_failover` and goes on trading. No order is placed twice."""
    config = gateway_config(sim, nats, tmp_path / "a.toml", "gw-a")
    first = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradewire", "gateway", "--config", str(config), stderr=asyncio.subprocess.PIPE
    )
    try:
        async with remote(nats, "binance-spot", command_timeout=3.0) as r:
            served = await once_served(r)
            assert served["account"]
            standby = tw.Gateway(
                nats.url, **nats.credentials("gateway"), standby_group="main", name="gw-b", lease_ttl=2.0
            )
            async with trader(sim, "binance", "spot") as c, standby:
                await standby.serve(c, ["BTCUSDT"], channels=["trades"])
                await standby.serve_account(c)
                await asyncio.sleep(1.0)
                assert not standby.active, "the lease is the first gateway's"
                events = r.events()
                updates = r.order_updates(durable="ha")
                await asyncio.sleep(0.3)
                price, qty = await resting_buy(sim, c, "binance", "spot")
                before = await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id="ha-0")
                assert before.status == tw.OrderStatus.NEW

                first.kill()
                await first.wait()
                # Orders go on being asked for while no gateway serves: each is placed once or
                # fails saying nothing was placed.
                outcomes: dict[str, tw.Order | Exception] = {}
                async with asyncio.timeout(30):
                    i = 1
                    while not standby.active or not isinstance(outcomes.get(f"ha-{i - 1}"), tw.Order):
                        cid = f"ha-{i}"
                        try:
                            outcomes[cid] = await r.place_limit(
                                SYMBOL, "BUY", qty, price, client_order_id=cid
                            )
                        except (tw.ConnectionLost, tw.Timeout) as e:
                            outcomes[cid] = e
                            await asyncio.sleep(0.2)
                        i += 1
                async with asyncio.timeout(10):
                    event = await anext(events)
                assert event.kind == tw.ConnectorEventKind.GATEWAY_FAILOVER
                assert event.fields["gateway"] == "gw-b" and event.fields["epoch"] == str(standby.epoch)
                at_venue = [o.client_order_id for o in sim.orders("binance", "spot")]
                for cid, outcome in outcomes.items():
                    placed = at_venue.count(cid)
                    if isinstance(outcome, tw.Order):
                        assert placed == 1 and outcome.status == tw.OrderStatus.NEW, (cid, outcome)
                    else:
                        assert placed <= 1, f"{cid} placed {placed} times"
                assert at_venue.count("ha-0") == 1
                # The account stream goes on: the durable reader sees the orders placed through
                # the new gateway.
                last = [cid for cid, o in outcomes.items() if isinstance(o, tw.Order)][-1]
                async with asyncio.timeout(10):
                    while (await updates.recv()).order.client_order_id != last:
                        pass
    finally:
        if first.returncode is None:
            first.kill()
        await first.wait()


READER = """
import asyncio, sys
import tradewire as tw

async def main() -> None:
    url, password, wanted = sys.argv[1], sys.argv[2], int(sys.argv[3])
    async with tw.Remote(url, "binance-spot", user="strategy", password=password) as r:
        updates = r.order_updates(durable="k9")
        print("ready", flush=True)
        for _ in range(wanted):
            u = await updates.recv()
            print(u.order.client_order_id, u.order.status.value, flush=True)
        await asyncio.sleep(3600)  # working on the last one when it is killed

asyncio.run(main())
"""


async def test_a_durable_reader_killed_mid_way_loses_nothing(sim: Simulator, nats: Nats) -> None:
    """A reader process takes 3 updates and is killed with SIGKILL while working on the third:
    under the same name, the next reader starts with that third one (it was never dealt with)
    and then gets every later update: nothing lost, and nothing it had dealt with again."""
    async with served(sim, nats, "binance", "spot") as (c, _), remote(nats, c.label) as r:
        everything = r.order_updates()
        reader = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            READER,
            nats.url,
            nats.credentials("strategy")["password"],
            "3",
            stdout=asyncio.subprocess.PIPE,
        )
        assert reader.stdout is not None
        try:
            async with asyncio.timeout(30):
                assert (await reader.stdout.readline()).strip() == b"ready"
            await asyncio.sleep(0.5)  # its consumer is open at "now"
            price, qty = await resting_buy(sim, c, "binance", "spot")
            for i in range(5):
                await r.place_limit(SYMBOL, "BUY", qty, price, client_order_id=f"k9-{i}")
            async with asyncio.timeout(20):
                handed = [(await reader.stdout.readline()).decode().split() for _ in range(3)]
            await asyncio.sleep(0.5)  # well past the 50 ms in which a place is saved
            reader.kill()
        finally:
            if reader.returncode is None:
                reader.kill()
            await reader.wait()
        all_updates = await take(everything, 5)
        assert [[u.order.client_order_id, u.order.status.value] for u in all_updates[:3]] == handed
    async with remote(nats, "binance-spot") as again:
        resumed = await take(again.order_updates(durable="k9"), 3)
        assert [key(u) for u in resumed] == [key(u) for u in all_updates[2:]], "from the third on"

"""The gateway on NATS (issue 23): one connector's market data published once and read by
remote processes with the connector's types, against a real `nats-server` and the simulator.

- a remote reader's trades are the venue's trades, exact to the last trailing zero, and a
  restarted gateway shows as a gap, never as a quiet hole;
- a reader that joins late rebuilds the book exactly from a snapshot and the numbered diffs,
  on every market, and a restarted gateway brings it a fresh whole book;
- requests (symbol rules, what is served) are answered; nothing answering is a clear error;
- NATS credentials and permissions hold: a wrong password, or a subject outside a user's
  grant, is `PermissionDenied`.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from collections.abc import Iterator
from decimal import Decimal

import pytest
import tradewire as tw
from tradewire.testing import Simulator

from .books import connect, until
from .books import equals_truth as book_equals_truth
from .nats import Nats, nats_server, once_served
from .test_book_diffs import Replica, equals_truth
from .trading import trader

MARKETS = [("binance", "spot"), ("binance", "usdm"), ("bybit", "spot"), ("bybit", "linear")]

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=41, steps_per_second=100, time_scale=10) as running:
        yield running


@pytest.fixture(scope="module")
def nats() -> Iterator[Nats]:
    with nats_server() as server:
        yield server


def gateway(nats: Nats) -> tw.Gateway:
    return tw.Gateway(nats.url, **nats.credentials("gateway"))


def remote(nats: Nats, label: str, user: str = "strategy") -> tw.Remote:
    return tw.Remote(nats.url, label, **nats.credentials(user))


def fields(t: tw.Trade) -> tuple[str, str, str, str, int]:
    return (t.trade_id, str(t.price), str(t.qty), t.side.value, t.exchange_time_ms)


async def test_remote_trades_are_the_venues_trades_and_a_restart_is_a_gap(sim: Simulator, nats: Nats) -> None:
    async with connect(sim, "binance", "spot") as venue, gateway(nats) as gw, remote(nats, venue.label) as r:
        assert venue.label == "binance-spot"
        await gw.serve(venue, ["BTCUSDT"], channels=["trades"])
        direct = venue.trades("BTCUSDT")
        through = r.trades("BTCUSDT")
        got: list[tw.Trade] = []
        async with asyncio.timeout(20):
            async for item in through:
                assert isinstance(item, tw.Trade), f"no gap on a quiet machine: {item!r}"
                got.append(item)
                if len(got) == 100:
                    break
        seen: list[tw.Trade] = []
        async with asyncio.timeout(20):
            async for item in direct:
                assert isinstance(item, tw.Trade)
                seen.append(item)
                if item.trade_id == got[-1].trade_id:
                    break
        # The direct stream started earlier: from the remote's first trade on, they agree.
        by_id = {t.trade_id: t for t in seen}
        assert all(t.trade_id in by_id for t in got), "every remote trade is a venue trade"
        assert [fields(t) for t in got] == [fields(by_id[t.trade_id]) for t in got]
        ids = [int(t.trade_id) for t in got]
        assert ids == list(range(ids[0], ids[0] + len(ids))), "none lost, none repeated, in order"
        assert all(isinstance(t.price, Decimal) for t in got)
        assert got[0].venue == tw.Venue.BINANCE and got[0].market == tw.Market.SPOT
        assert gw.stats()["published"] >= 100 and gw.stats()["publish_errors"] == 0

        # The gateway goes away and another starts: the reader is told it may have missed
        # trades (a new epoch is a gap), then trades flow again.
        await gw.close()
        async with gateway(nats) as second:
            await second.serve(venue, ["BTCUSDT"], channels=["trades"])
            async with asyncio.timeout(20):
                item = await through.recv()
                last = ids[-1]
                while isinstance(item, tw.Trade):  # what the first gateway sent before it closed
                    assert int(item.trade_id) == last + 1
                    last = int(item.trade_id)
                    item = await through.recv()
                assert isinstance(item, tw.Gap) and item.missed >= 1
                after = await through.recv()
                assert isinstance(after, tw.Trade) and int(after.trade_id) > last
        await through.aclose()
        await direct.aclose()


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_remote_book_is_the_venues_book(sim: Simulator, nats: Nats, venue: str, market: str) -> None:
    """`Remote.book()` and `book_updates()`: the connector's live book and views, kept from the
    gateway's diffs, equal to the simulator's true book (Binance: at its update id too)."""
    async with connect(sim, venue, market) as c, gateway(nats) as gw, remote(nats, c.label) as r:
        await gw.serve(c, ["BTCUSDT"], channels=["book"])
        with await r.book("BTCUSDT", depth=20) as book:
            assert book.is_synced and (book.venue.value, book.market.value) == (venue, market)
            await book_equals_truth(sim, book, venue, market)
            async with r.book_updates("BTCUSDT", depth=5) as views:
                async with asyncio.timeout(10):
                    view = await views.recv()
                assert view.symbol == "BTCUSDT" and view.is_synced
                assert 0 < len(view.bids) <= 5 and view.bids[0].price < view.asks[0].price
        with pytest.raises(tw.InvalidArgument):
            r.book_updates("BTC.USDT")


# Bybit: its books sync in a still market (a Binance book waits for a diff after its snapshot);
# the relay under test is the same for every venue.
@pytest.mark.parametrize(("venue", "market"), [("bybit", "spot"), ("bybit", "linear")])
async def test_a_shallow_remote_book_refills_a_level_removed_inside_its_depth(
    nats: Nats, venue: str, market: str
) -> None:
    """A remote book of 3 levels a side whose best bid is taken away shows the level below the
    third next: it keeps what the gateway sends, not only the 3 levels asked for."""
    with Simulator(steps_per_second=0) as still:
        async with trader(still, venue, market) as c, gateway(nats) as gw, remote(nats, c.label) as r:
            await gw.serve(c, ["BTCUSDT"], channels=["book"])
            with await r.book("BTCUSDT", depth=3) as book:
                await book_equals_truth(still, book, venue, market, n=3)
                _, bids, _ = still.native.book(
                    still.native_venue(venue), still.native_market(market), "BTCUSDT", 1
                )
                step = (await c.symbol_info("BTCUSDT")).step_size
                whole = -(-bids[0].qty // step) * step  # the level's size in whole steps
                await c.place_market("BTCUSDT", "SELL", whole)  # takes the whole best bid
                _, after, _ = still.native.book(
                    still.native_venue(venue), still.native_market(market), "BTCUSDT", 3
                )
                assert after[0].price < bids[0].price, "the best bid level is gone"
                await book_equals_truth(still, book, venue, market, n=3)
                assert len(book.snapshot(3).bids) == 3


@pytest.mark.parametrize(("venue", "market"), MARKETS)
async def test_a_late_reader_rebuilds_the_book_exactly(
    sim: Simulator, nats: Nats, venue: str, market: str
) -> None:
    async with connect(sim, venue, market) as c, gateway(nats) as gw, remote(nats, c.label) as r:
        await gw.serve(c, ["BTCUSDT"], channels=["book"])
        await asyncio.sleep(0.5)  # the book moves before the reader comes
        replica = Replica(r.book_diffs("BTCUSDT"))
        await until(lambda: len(replica.diffs) >= 30, 15, "30 diffs through the gateway")
        first = replica.diffs[0]
        assert first.is_reset and first.is_synced and first.bids and first.asks, "the whole book first"
        assert (first.venue.value, first.market.value, first.symbol) == (venue, market, "BTCUSDT")
        assert sum(1 for d in replica.diffs if d.is_reset) == 1, "no resync on a quiet bus"
        await equals_truth(sim, replica, venue, market)
        assert gw.stats()["snapshots_served"] >= 1
        replica.stop()


async def test_a_restarted_gateway_brings_a_fresh_book(sim: Simulator, nats: Nats) -> None:
    async with connect(sim, "bybit", "linear") as c, remote(nats, c.label) as r:
        async with gateway(nats) as first:
            await first.serve(c, ["BTCUSDT"], channels=["book"])
            replica = Replica(r.book_diffs("BTCUSDT"))
            await until(lambda: len(replica.diffs) >= 10, 15, "10 diffs")
        resets = sum(1 for d in replica.diffs if d.is_reset)
        async with gateway(nats) as second:
            await second.serve(c, ["BTCUSDT"], channels=["book"])
            await until(
                lambda: sum(1 for d in replica.diffs if d.is_reset) > resets,
                15,
                "a fresh book from the new gateway",
            )
            await equals_truth(sim, replica, "bybit", "linear")
        replica.stop()


async def test_requests_are_answered_and_nothing_answering_is_clear(sim: Simulator, nats: Nats) -> None:
    async with connect(sim, "binance", "usdm") as c, gateway(nats) as gw, remote(nats, c.label) as r:
        await gw.serve(c, ["BTCUSDT", "ETHUSDT"], channels=["trades", "book"])
        assert await r.symbol_info("ETHUSDT") == await c.symbol_info("ETHUSDT")
        with pytest.raises(tw.InvalidArgument):
            await r.symbol_info("NOPEUSDT")
        served = await r.served()
        assert (served["venue"], served["market"], served["epoch"]) == ("binance", "usdm", gw.epoch)
        assert served["trades"] == ["BTCUSDT", "ETHUSDT"] and served["books"] == ["BTCUSDT", "ETHUSDT"]
        assert served["tickers"] == []
        with pytest.raises(tw.InvalidArgument):
            await gw.serve(c, ["NOPEUSDT"], channels=["trades"])
        with pytest.raises(tw.InvalidArgument):
            await gw.serve(c, ["BTCUSDT"], channels=["candles"])  # type: ignore[list-item]
        with pytest.raises(tw.InvalidArgument):
            r.trades("BTC.USDT")
    async with remote(nats, "bybit-spot") as nobody:
        with pytest.raises(tw.ConnectionLost, match="no gateway answers"):
            await nobody.symbol_info("BTCUSDT")


async def test_credentials_and_permissions_hold(sim: Simulator, nats: Nats) -> None:
    with pytest.raises(tw.PermissionDenied):
        await tw.Remote(nats.url, "binance-spot", user="strategy", password="wrong").start()
    with pytest.raises(tw.InvalidArgument):
        tw.Remote("", "binance-spot")
    async with (
        connect(sim, "binance", "spot") as spot,
        connect(sim, "bybit", "spot") as other,
        gateway(nats) as gw,
        remote(nats, "binance-spot", user="binance-only") as allowed,
        remote(nats, "bybit-spot", user="binance-only") as outside,
    ):
        await gw.serve(spot, ["BTCUSDT"], channels=["trades"])
        await gw.serve(other, ["BTCUSDT"], channels=["trades"])
        async with asyncio.timeout(20):
            first = await allowed.trades("BTCUSDT").recv()
        assert isinstance(first, tw.Trade)
        refused = outside.trades("BTCUSDT")
        with pytest.raises(tw.PermissionDenied, match="bybit-spot"):
            async with asyncio.timeout(20):
                await refused.recv()


async def test_the_gateway_command_serves_what_its_config_names(
    sim: Simulator, nats: Nats, tmp_path: pathlib.Path
) -> None:
    endpoints = sim.endpoints("binance", "spot")
    config = tmp_path / "gateway.toml"
    config.write_text(
        f'[nats]\nurl = "{nats.url}"\nuser = "gateway"\npassword_env = "TW_TEST_NATS_PASSWORD"\n\n'
        '[[venue]]\nvenue = "binance"\nmarket = "spot"\nsymbols = ["BTCUSDT"]\n'
        'channels = ["trades", "book"]\n'
        f'[venue.endpoints]\nrest = "{endpoints.rest}"\nws_public = "{endpoints.ws_public}"\n'
    )
    env = {**os.environ, "TW_TEST_NATS_PASSWORD": nats.credentials("gateway")["password"]}
    command = [sys.executable, "-m", "tradewire", "gateway", "--config", str(config), "--duration", "30"]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with remote(nats, "binance-spot") as r:
            served = await once_served(r)
            assert served["trades"] == ["BTCUSDT"] and served["books"] == ["BTCUSDT"]
            async with asyncio.timeout(20):
                trade = await r.trades("BTCUSDT").recv()
                diff = await r.book_diffs("BTCUSDT").recv()
            assert isinstance(trade, tw.Trade) and isinstance(diff, tw.BookDiff) and diff.is_reset
    finally:
        process.terminate()
        _, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == 0, err.decode()[-2000:]

    bad = tmp_path / "bad.toml"
    bad.write_text('[nats]\nurl = "nats://127.0.0.1:1"\n')
    done = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tradewire", "gateway", "--config", str(bad), stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(done.communicate(), 30)
    assert done.returncode == 2 and b"[[venue]]" in err


async def test_the_gateway_and_a_reader_speak_tls_to_nats(sim: Simulator) -> None:
    """A NATS server that only speaks TLS: with the CA that signed its certificate both ends
    connect and the reader gets the venue's rules; without it the reader is refused."""
    with nats_server(tls=True) as secure:
        assert secure.ca_file is not None
        tls = {"root_certificates": secure.ca_file, "require_tls": True}
        async with (
            connect(sim, "binance", "spot") as venue,
            tw.Gateway(secure.url, **secure.credentials("gateway"), **tls) as gw,  # type: ignore[arg-type]
            tw.Remote(secure.url, venue.label, **secure.credentials("strategy"), **tls) as r,  # type: ignore[arg-type]
        ):
            await gw.serve(venue, ["BTCUSDT"], channels=["trades"])
            info, direct = await r.symbol_info("BTCUSDT"), await venue.symbol_info("BTCUSDT")
            assert info.symbol == "BTCUSDT" and info.tick_size == direct.tick_size
        untrusted = tw.Remote(secure.url, "binance-spot", **secure.credentials("strategy"), require_tls=True)
        with pytest.raises(tw.ConnectionLost):
            await untrusted.start()
